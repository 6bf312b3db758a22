//! Account rules with no I/O: what a valid email address, password and organization slug are.

use std::fmt;

use crate::FieldError;

/// A syntactically valid email address, trimmed, with a lowercased domain. The only
/// constructor is [`EmailAddress::parse`], so an unvalidated address cannot exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses an address: one `@`, a non-empty local part without spaces, a domain with a dot
    /// and no empty labels, at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > 254 {
            return Err("must be at most 254 characters".to_owned());
        }
        let (local, domain) = trimmed
            .rsplit_once('@')
            .ok_or_else(|| "must be an email address".to_owned())?;
        let valid_local = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.chars().any(|c| c.is_whitespace() || c.is_control());
        let valid_domain = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !(valid_local && valid_domain) {
            return Err("must be an email address".to_owned());
        }
        let address = format!("{local}@{}", domain.to_lowercase());
        // Lowercasing can lengthen text (`İ` becomes two characters): the stored form counts.
        if address.chars().count() > 254 {
            return Err("must be at most 254 characters".to_owned());
        }
        Ok(Self(address))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shortest password accepted (OWASP ASVS 5.0: at least 8; 15 recommended).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password accepted (at least 64 must be allowed; passphrases welcome).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Passwords refused because they top every breach list (a short list kept in the code; a
/// breached-password service can extend it).
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "12345678",
    "123456789",
    "1234567890",
    "12345678910",
    "123123123",
    "11111111",
    "00000000",
    "88888888",
    "87654321",
    "qwertyuiop",
    "qwerty123",
    "qwerty1234",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "zaq12wsx",
    "asdfghjkl",
    "asdf1234",
    "abcd1234",
    "abc12345",
    "abcdefgh",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "welcome123",
    "letmein1",
    "trustno1",
    "superman",
    "starwars",
    "whatever",
    "dragon123",
    "monkey123",
    "master123",
    "shadow123",
    "michael1",
    "jennifer",
    "computer",
    "internet",
    "changeme",
    "changeme123",
    "administrator",
    "admin123",
    "admin1234",
    "qazwsxedc",
    "q1w2e3r4",
    "q1w2e3r4t5",
    "secret123",
    "freedom1",
    "mustang1",
    "liverpool",
    "chelsea1",
    "arsenal1",
    "samsung1",
    "michelle",
    "jordan23",
    "hello123",
    "charlie1",
    "loveme123",
    "test1234",
    "testtest",
    "default1",
    "gsign123",
    "signature",
];

/// Checks a new password; returns every problem at once (pointer `/password`).
pub fn password_problems(password: &str, email: Option<&EmailAddress>) -> Vec<FieldError> {
    let mut problems = Vec::new();
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        problems.push(FieldError::new(
            "/password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        problems.push(FieldError::new(
            "/password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    let lowered = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lowered.as_str()) {
        problems.push(FieldError::new(
            "/password",
            "is one of the most common passwords",
        ));
    }
    if let Some(email) = email {
        let local = email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_lowercase();
        if lowered == email.as_str().to_lowercase() || (local.len() >= 4 && lowered == local) {
            problems.push(FieldError::new(
                "/password",
                "must not be your email address",
            ));
        }
    }
    problems
}

/// A URL-safe slug for an organization name: lowercase ASCII letters and digits separated by
/// single hyphens, at most 60 characters; `org` when nothing is left.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "org".to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_trimmed_and_their_domain_lowercased() {
        let email = EmailAddress::parse("  Ana.Ruiz@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "Ana.Ruiz@example.com");
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a na@example.com",
            "ana@exa..com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            EmailAddress::parse("батбаяр@жишээ.мн").is_ok(),
            "international addresses"
        );
    }

    #[test]
    fn passwords_need_length_and_must_not_be_common_or_the_email() {
        let email = EmailAddress::parse("ana.ruiz@example.com").expect("valid");
        assert!(password_problems("correct horse battery staple", Some(&email)).is_empty());
        assert_eq!(password_problems("short", None).len(), 1);
        assert_eq!(password_problems("Password123", None).len(), 1);
        assert_eq!(password_problems("ana.ruiz", Some(&email)).len(), 1);
        assert_eq!(password_problems(&"x".repeat(129), None).len(), 1);
        assert!(
            password_problems(&"é".repeat(64), None).is_empty(),
            "64 characters allowed"
        );
        assert!(
            password_problems("Өдөр сайхан байна", None).is_empty(),
            "any script"
        );
    }

    #[test]
    fn slugs_are_url_safe_and_never_empty() {
        assert_eq!(slugify("Acme Signing, Inc."), "acme-signing-inc");
        assert_eq!(slugify("  --  "), "org");
        assert_eq!(slugify("Монгол Банк"), "org");
        assert!(slugify(&"a".repeat(100)).len() <= 60);
    }
}
