//! DOCX/XLSX -> PDF with LibreOffice headless (`soffice --convert-to pdf`).
//!
//! Locally LibreOffice comes from Debian (`libreoffice-writer-nogui`, `libreoffice-calc-nogui`);
//! in AWS the ingest function carries it in a layer (see `infra/aws/README.md`). Each
//! conversion gets a profile directory of its own (two `soffice` sharing one profile block each
//! other) and its own process group, so a hung converter is killed whole at the timeout.
//!
//! LibreOffice parses untrusted files, so it runs with nothing worth stealing and under
//! limits: a cleared environment (none of the function's secrets: database URL, Redis token,
//! AWS credentials), CPU, address-space and file-size rlimits set by the launcher (the
//! function's own binary, [`gsign_pdf::EXEC_LIMITED_ARG`]), and a profile that never runs
//! macros nor updates links.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Why a conversion produced no PDF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    /// The converter is not installed (or not executable) here.
    #[error("the office converter is not available: {0}")]
    Unavailable(String),
    /// It ran and failed, timed out, or wrote no PDF.
    #[error("{0}")]
    Failed(String),
}

/// The only variables the converter's environment keeps from the function's (none of them a
/// secret; the library path and fonts matter for LibreOffice in a Lambda layer).
pub const PASSED_ENVIRONMENT: [&str; 5] = [
    "LD_LIBRARY_PATH",
    "FONTCONFIG_PATH",
    "FONTCONFIG_FILE",
    "TZ",
    "SAL_USE_VCLPLUGIN",
];

/// The profile every conversion starts from: macros never run (security level "very high",
/// execution disabled) and links to other files or the web are never updated.
const PROFILE_SETTINGS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
</oor:items>
"#;

/// The LibreOffice converter.
#[derive(Debug, Clone)]
pub struct Converter {
    program: PathBuf,
    timeout: Duration,
    /// The launcher that applies `limits` (the function's own binary); `None` runs the
    /// program directly (unit tests with stand-in converters).
    launcher: Option<(PathBuf, gsign_pdf::ProgramLimits)>,
}

impl Converter {
    /// A converter running `program` (e.g. `soffice`), killed after `timeout`.
    pub fn new(program: PathBuf, timeout: Duration) -> Self {
        Self {
            program,
            timeout,
            launcher: None,
        }
    }

    /// Runs the program through `launcher` (a binary that answers
    /// [`gsign_pdf::EXEC_LIMITED_ARG`]) under `limits`.
    pub fn limited_by(mut self, launcher: PathBuf, limits: gsign_pdf::ProgramLimits) -> Self {
        self.launcher = Some((launcher, limits));
        self
    }

    /// Converts `input` (whose extension names its format) to a PDF inside `work_dir`, and
    /// returns the PDF's path.
    #[tracing::instrument(skip_all)]
    pub async fn to_pdf(&self, input: &Path, work_dir: &Path) -> Result<PathBuf, ConversionError> {
        let out_dir = work_dir.join("converted");
        let profile = work_dir.join("lo-profile");
        prepare(&out_dir, &profile).await?;
        let mut command = self.command(input, work_dir, &out_dir, &profile)?;
        let child = self.start(&mut command)?;
        let output = self.finish(child).await?;
        let stem = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pdf = out_dir.join(format!("{stem}.pdf"));
        let produced = tokio::fs::metadata(&pdf).await.is_ok_and(|m| m.len() > 0);
        if output.status.success() && produced {
            return Ok(pdf);
        }
        Err(no_pdf(&output))
    }

    /// The program, run through the launcher under its limits when there is one.
    fn program(&self) -> Result<tokio::process::Command, ConversionError> {
        Ok(match &self.launcher {
            Some((launcher, limits)) => {
                // Found here, on the function's PATH: the launcher's `exec` failing would look
                // like a failed conversion, and the converter's PATH is a fixed, short one.
                let program = resolve(&self.program).ok_or_else(|| {
                    ConversionError::Unavailable(format!("{} not found", self.program.display()))
                })?;
                gsign_pdf::limited_command(launcher, limits, &program)
            }
            None => tokio::process::Command::new(&self.program),
        })
    }

    /// The conversion command: a cleared environment but for [`PASSED_ENVIRONMENT`], the
    /// profile, and a process group of its own.
    fn command(
        &self,
        input: &Path,
        work_dir: &Path,
        out_dir: &Path,
        profile: &Path,
    ) -> Result<tokio::process::Command, ConversionError> {
        let mut command = self.program()?;
        command.env_clear();
        for name in PASSED_ENVIRONMENT {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "C.UTF-8")
            .env("TMPDIR", work_dir)
            .arg("--headless")
            .arg("--norestore")
            .arg("--nolockcheck")
            .arg("--nodefault")
            .arg("--nofirststartwizard")
            .arg(format!(
                "-env:UserInstallation=file://{}",
                profile.display()
            ))
            .arg("--convert-to")
            .arg("pdf")
            .arg("--outdir")
            .arg(out_dir)
            .arg(input)
            .env("HOME", work_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        Ok(command)
    }

    /// Starts `command`; a missing or non-executable program is `Unavailable`.
    fn start(
        &self,
        command: &mut tokio::process::Command,
    ) -> Result<tokio::process::Child, ConversionError> {
        match command.spawn() {
            Ok(child) => Ok(child),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(
                ConversionError::Unavailable(format!("{} not found", self.program.display())),
            ),
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                Err(ConversionError::Unavailable(format!(
                    "{} is not executable",
                    self.program.display()
                )))
            }
            Err(err) => Err(ConversionError::Failed(format!(
                "cannot start the converter: {err}"
            ))),
        }
    }

    /// Waits for the converter until the timeout, then kills its process group.
    #[tracing::instrument(skip_all)]
    async fn finish(
        &self,
        child: tokio::process::Child,
    ) -> Result<std::process::Output, ConversionError> {
        let group = child.id();
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(result) => {
                result.map_err(|e| ConversionError::Failed(format!("converter I/O: {e}")))?
            }
            Err(_) => {
                kill_group(group).await;
                return Err(ConversionError::Failed(format!(
                    "the converter did not finish within {} s",
                    self.timeout.as_secs()
                )));
            }
        };
        // soffice may leave helpers behind even on success.
        kill_group(group).await;
        Ok(output)
    }
}

/// Creates the output directory and the profile that keeps macros and links off.
#[tracing::instrument(skip_all)]
async fn prepare(out_dir: &Path, profile: &Path) -> Result<(), ConversionError> {
    let failed = |what: String| ConversionError::Failed(what);
    tokio::fs::create_dir_all(out_dir)
        .await
        .map_err(|e| failed(format!("cannot create the output directory: {e}")))?;
    tokio::fs::create_dir_all(profile.join("user"))
        .await
        .map_err(|e| failed(format!("cannot create the profile: {e}")))?;
    tokio::fs::write(
        profile.join("user/registrymodifications.xcu"),
        PROFILE_SETTINGS,
    )
    .await
    .map_err(|e| failed(format!("cannot write the profile: {e}")))
}

/// The failure of a converter that wrote no PDF: its exit status and last words.
fn no_pdf(output: &std::process::Output) -> ConversionError {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last_line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    ConversionError::Failed(format!(
        "the converter wrote no PDF ({}{}{})",
        output.status,
        if last_line.is_empty() { "" } else { ": " },
        last_line.chars().take(200).collect::<String>()
    ))
}

/// `program` as an executable file: itself if it names a path, else the first match on PATH.
fn resolve(program: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.components().count() > 1 {
        return executable(program).then(|| program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
}

/// Kills a process group (the converter and anything it started) with `kill -KILL -PGID`:
/// the standard tool, since this workspace forbids `unsafe` and so a direct `kill(2)`.
#[tracing::instrument(skip_all)]
async fn kill_group(group: Option<u32>) {
    let Some(pgid) = group else { return };
    let _ = tokio::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_converter_is_unavailable_not_a_failure_of_the_file() {
        let dir = std::env::temp_dir().join(format!("gsign-convert-{}", uuid::Uuid::new_v4()));
        let converter = Converter::new("/nonexistent/soffice".into(), Duration::from_secs(5));
        let err = converter
            .to_pdf(Path::new("/tmp/x.docx"), &dir)
            .await
            .expect_err("no converter");
        assert!(matches!(err, ConversionError::Unavailable(_)), "{err:?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_hanging_converter_is_killed_at_the_timeout() {
        let dir = std::env::temp_dir().join(format!("gsign-convert-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let fake = dir.join("soffice");
        std::fs::write(&fake, "#!/bin/sh\nsleep 30\n").expect("script");
        let chmod = std::process::Command::new("chmod")
            .args(["+x", &fake.to_string_lossy()])
            .status()
            .expect("chmod");
        assert!(chmod.success());
        let converter = Converter::new(fake, Duration::from_millis(300));
        let started = std::time::Instant::now();
        let err = converter
            .to_pdf(Path::new("/tmp/x.docx"), &dir)
            .await
            .expect_err("timed out");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains("did not finish"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_converter_that_writes_nothing_fails_with_its_last_words() {
        let dir = std::env::temp_dir().join(format!("gsign-convert-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let fake = dir.join("soffice");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'Error: source file could not be loaded' >&2\nexit 0\n",
        )
        .expect("script");
        let chmod = std::process::Command::new("chmod")
            .args(["+x", &fake.to_string_lossy()])
            .status()
            .expect("chmod");
        assert!(chmod.success());
        let err = Converter::new(fake, Duration::from_secs(5))
            .to_pdf(Path::new("/tmp/x.docx"), &dir)
            .await
            .expect_err("no pdf");
        assert!(err.to_string().contains("could not be loaded"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn the_converter_sees_none_of_the_functions_environment_and_a_macro_free_profile() {
        let dir = std::env::temp_dir().join(format!("gsign-convert-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        // A stand-in that writes its environment and its profile where the PDF would go.
        let fake = dir.join("soffice");
        std::fs::write(
            &fake,
            "#!/bin/sh\nout=''; prev=''\nfor a in \"$@\"; do [ \"$prev\" = --outdir ] && out=\"$a\"; prev=\"$a\"; last=\"$a\"; done\n\
             stem=$(basename \"$last\"); stem=${stem%.*}\n\
             { env; cat \"$HOME/lo-profile/user/registrymodifications.xcu\"; } > \"$out/$stem.pdf\"\n",
        )
        .expect("script");
        let chmod = std::process::Command::new("chmod")
            .args(["+x", &fake.to_string_lossy()])
            .status()
            .expect("chmod");
        assert!(chmod.success());
        let input = dir.join("contract.docx");
        std::fs::write(&input, b"PK").expect("input");
        let pdf = Converter::new(fake, Duration::from_secs(5))
            .to_pdf(&input, &dir)
            .await
            .expect("the stand-in writes its output");
        let written = std::fs::read_to_string(pdf).expect("output");
        let names: Vec<&str> = written
            .lines()
            .filter_map(|l| l.split_once('=').map(|(name, _)| name))
            .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        // cargo gives this test process CARGO_* variables: none may reach the converter.
        assert!(std::env::vars().any(|(name, _)| name.starts_with("CARGO")));
        let allowed = ["HOME", "PATH", "LANG", "TMPDIR", "PWD", "SHLVL", "_"];
        for name in &names {
            assert!(
                allowed.contains(name) || PASSED_ENVIRONMENT.contains(name),
                "{name} reached the converter:\n{written}"
            );
        }
        assert!(written.contains("DisableMacrosExecution"), "{written}");
        assert!(written.contains(r#"<prop oor:name="Link" oor:op="fuse"><value>2</value>"#));
        let _ = std::fs::remove_dir_all(dir);
    }
}
