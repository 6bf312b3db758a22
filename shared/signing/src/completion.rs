//! The certificate of completion: a PDF that lists the envelope, the document's original and
//! final SHA-256, the sender, every recipient (role, authentication, IP, user agent, times,
//! signature image) and the whole evidence log, in any script the shipped font covers. The
//! envelope's completion stores it beside the final document and seals both.

use chrono::{DateTime, Utc};
use lopdf::{dictionary, Document, Object, ObjectId, Stream};

use crate::algorithm::SignError;
use crate::appearance::Drawing;
use crate::font::{Font, Subset};
use crate::stream::deflate;

/// A4 in points.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 50.0;

/// One recipient's part.
#[derive(Debug, Clone)]
pub struct RecipientRecord {
    /// Name.
    pub name: String,
    /// Address.
    pub email: String,
    /// signer, approver, viewer, cc.
    pub role: String,
    /// email or access_code.
    pub auth_method: String,
    /// IP of their last action.
    pub ip: Option<String>,
    /// User agent of their last action.
    pub user_agent: Option<String>,
    /// When they were asked.
    pub sent_at: Option<DateTime<Utc>>,
    /// When they first opened the link.
    pub viewed_at: Option<DateTime<Utc>>,
    /// When they signed.
    pub signed_at: Option<DateTime<Utc>>,
    /// Their drawn signature (PNG), if any.
    pub signature_png: Option<Vec<u8>>,
}

/// One evidence event.
#[derive(Debug, Clone)]
pub struct EventRecord {
    /// 1, 2, …
    pub sequence: i32,
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub action: String,
    /// Who (a name, an address, or `system`).
    pub actor: String,
    /// From where.
    pub ip: Option<String>,
    /// This row's hash in the chain.
    pub hash: String,
}

/// Everything the certificate states.
#[derive(Debug, Clone)]
pub struct CompletionRecord {
    /// The envelope.
    pub envelope_id: String,
    /// Its name.
    pub envelope_name: String,
    /// The document's name.
    pub document_name: String,
    /// SHA-256 of the document as uploaded.
    pub original_sha256: String,
    /// SHA-256 of the final, sealed document.
    pub final_sha256: String,
    /// Who sent it.
    pub sender: String,
    /// The organization.
    pub organization: String,
    /// When it completed.
    pub completed_at: DateTime<Utc>,
    /// Every recipient.
    pub recipients: Vec<RecipientRecord>,
    /// The evidence log, in order.
    pub events: Vec<EventRecord>,
}

fn time(value: Option<DateTime<Utc>>) -> String {
    value.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// Lays text out on pages, top to bottom, starting new pages as needed.
struct Layout<'f> {
    font: &'f Font,
    subset: Subset<'f>,
    pages: Vec<(String, Vec<(String, ObjectId)>)>,
    y: f32,
}

impl<'f> Layout<'f> {
    fn new(font: &'f Font) -> Self {
        Self {
            font,
            subset: Subset::new(font),
            pages: vec![(String::new(), Vec::new())],
            y: PAGE.1 - MARGIN,
        }
    }

    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN {
            self.pages.push((String::new(), Vec::new()));
            self.y = PAGE.1 - MARGIN;
        }
    }

    /// Writes `text` at `size`, wrapped to the page width (indented by `indent`).
    fn text(&mut self, text: &str, size: f32, indent: f32) -> Result<(), SignError> {
        let width = PAGE.0 - 2.0 * MARGIN - indent;
        for line in self.wrap(text, size, width)? {
            self.room(size * 1.3);
            self.y -= size * 1.3;
            let shaped = self.font.shape(&line)?;
            let shown = self.subset.show(&shaped, size);
            let x = MARGIN + indent;
            let y = self.y;
            if let Some((content, _)) = self.pages.last_mut() {
                content.push_str(&format!("BT 0 g {x:.2} {y:.2} Td {shown} ET\n"));
            }
        }
        Ok(())
    }

    /// Splits `text` into lines no wider than `width` at `size`, at spaces where it can.
    fn wrap(&self, text: &str, size: f32, width: f32) -> Result<Vec<String>, SignError> {
        let fits = |candidate: &str| -> Result<bool, SignError> {
            Ok(self.font.shape(candidate)?.width / 1000.0 * size <= width)
        };
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split(' ') {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if fits(&candidate)? {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word wider than the line (a hash, a user agent) is cut.
            let mut rest = word.to_owned();
            while !fits(&rest)? {
                let mut cut = rest.chars().count().saturating_sub(1);
                while cut > 1 && !fits(&rest.chars().take(cut).collect::<String>())? {
                    cut -= 1;
                }
                lines.push(rest.chars().take(cut.max(1)).collect());
                rest = rest.chars().skip(cut.max(1)).collect();
            }
            line = rest;
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        Ok(lines)
    }

    /// Places an image `height` points tall, aspect kept, at the left margin plus `indent`.
    fn image(&mut self, document: &mut Document, drawing: &Drawing, height: f32, indent: f32) {
        self.room(height + 4.0);
        self.y -= height + 4.0;
        let (w, h) = drawing.size();
        let width = height * w as f32 / h.max(1) as f32;
        let id = drawing.embed(document);
        let (x, y) = (MARGIN + indent, self.y);
        if let Some((content, images)) = self.pages.last_mut() {
            let name = format!("Im{}", images.len() + 1);
            content.push_str(&format!(
                "q {width:.2} 0 0 {height:.2} {x:.2} {y:.2} cm /{name} Do Q\n"
            ));
            images.push((name, id));
        }
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }
}

/// The certificate of completion as a PDF.
pub fn certificate_pdf(record: &CompletionRecord) -> Result<Vec<u8>, SignError> {
    let font = Font::shipped()?;
    let mut document = Document::with_version("1.7");
    let mut layout = Layout::new(&font);
    layout.text("Certificate of Completion", 18.0, 0.0)?;
    layout.gap(6.0);
    for (label, value) in [
        (
            "Envelope",
            format!("{} ({})", record.envelope_name, record.envelope_id),
        ),
        ("Document", record.document_name.clone()),
        ("Original SHA-256", record.original_sha256.clone()),
        ("Final SHA-256", record.final_sha256.clone()),
        (
            "Sender",
            format!("{} — {}", record.sender, record.organization),
        ),
        ("Completed", time(Some(record.completed_at))),
    ] {
        layout.text(&format!("{label}: {value}"), 10.0, 0.0)?;
    }
    layout.gap(10.0);
    layout.text("Recipients", 14.0, 0.0)?;
    for recipient in &record.recipients {
        layout.gap(4.0);
        layout.text(
            &format!(
                "{} <{}> — {}",
                recipient.name, recipient.email, recipient.role
            ),
            11.0,
            0.0,
        )?;
        for line in [
            format!("Authentication: {}", recipient.auth_method),
            format!(
                "Sent: {}   Viewed: {}   Signed: {}",
                time(recipient.sent_at),
                time(recipient.viewed_at),
                time(recipient.signed_at)
            ),
            format!("IP: {}", recipient.ip.as_deref().unwrap_or("-")),
            format!(
                "User agent: {}",
                recipient.user_agent.as_deref().unwrap_or("-")
            ),
        ] {
            layout.text(&line, 9.0, 12.0)?;
        }
        if let Some(png) = &recipient.signature_png {
            let drawing = Drawing::from_png(png)?;
            layout.image(&mut document, &drawing, 36.0, 12.0);
        }
    }
    layout.gap(10.0);
    layout.text("Evidence log (hash-chained)", 14.0, 0.0)?;
    for event in &record.events {
        layout.text(
            &format!(
                "{:>3}  {}  {}  by {}  from {}  #{}",
                event.sequence,
                event.at.format("%Y-%m-%d %H:%M:%S"),
                event.action,
                event.actor,
                event.ip.as_deref().unwrap_or("-"),
                &event.hash[..event.hash.len().min(16)]
            ),
            8.0,
            0.0,
        )?;
    }

    // Every page says which envelope it belongs to and where it stands.
    let count = layout.pages.len();
    for index in 0..count {
        let footer = font.shape(&format!(
            "{} — page {} of {count}",
            record.envelope_id,
            index + 1
        ))?;
        let shown = layout.subset.show(&footer, 7.0);
        layout.pages[index].0.push_str(&format!(
            "BT 0.4 g {MARGIN:.2} {:.2} Td {shown} ET\n",
            MARGIN / 2.0
        ));
    }
    let fonts = layout.subset.embed(&mut document)?;
    let pages_id = document.new_object_id();
    let mut kids = Vec::new();
    for (content, images) in layout.pages {
        let content_id = document.add_object(Stream::new(
            dictionary! { "Filter" => "FlateDecode" },
            deflate(content.as_bytes()),
        ));
        let mut xobjects = lopdf::Dictionary::new();
        for (name, id) in images {
            xobjects.set(name, Object::Reference(id));
        }
        let page = document.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => Object::Reference(pages_id),
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(PAGE.0), Object::Real(PAGE.1)],
            "Resources" => dictionary! {
                "Font" => fonts.clone(),
                "XObject" => xobjects,
            },
            "Contents" => Object::Reference(content_id),
        });
        kids.push(Object::Reference(page));
    }
    document.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => i64::try_from(count).unwrap_or(1),
        }),
    );
    let catalog = document.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => Object::Reference(pages_id),
    });
    document.trailer.set("Root", Object::Reference(catalog));
    let mut out = Vec::new();
    document
        .save_to(&mut out)
        .map_err(|e| SignError::Invalid(format!("save: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_words_and_lines_wrap_inside_the_page() {
        let font = Font::shipped().expect("font");
        let layout = Layout::new(&font);
        let lines = layout
            .wrap(&format!("hash {}", "a".repeat(300)), 10.0, 200.0)
            .expect("wrapped");
        assert!(lines.len() > 2, "{lines:?}");
        for line in &lines {
            assert!(
                font.shape(line).expect("shape").width / 100.0 <= 200.0,
                "{line}"
            );
        }
    }
}
