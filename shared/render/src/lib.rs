//! Documents generated from clauses (seed 003): Markdown with substituted variables,
//! typeset by Typst (used as a library: real line breaking, pagination, tables, header and
//! footer) into a PDF whose bytes depend only on the inputs and [`GENERATOR_VERSION`], with
//! the page and box of every signature block, for the envelope's signature fields.
//!
//! Clause text never becomes markup: every run of text reaches Typst as an escaped string
//! literal, raw HTML is refused, and the only files the typesetter can read are the fonts
//! compiled in and the logo given.
//!
//! In the Markdown: `{{name}}` (or `{{party.name}}`) is replaced by that variable's value,
//! as text; `{{signature:ROLE}}` on a line of its own places a signature block for the
//! signer role `ROLE`; `<!-- pagebreak -->` starts a new page; headings, emphasis, lists and
//! tables are typeset as such. [`variables`] checks values against a clause's JSON Schema.

pub mod variables;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use sha2::{Digest, Sha256};
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, NativeElement, Selector, Smart, Value};
use typst::introspection::MetadataElem;
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

/// Changes whenever the same inputs would give other bytes (the prelude, the fonts, Typst).
pub const GENERATOR_VERSION: &str = "gsign-render/1 typst-0.15.1";

/// Width and height of a signature block, in points.
pub const SIGNATURE_BLOCK: (f64, f64) = (200.0, 60.0);

static FONTS: [&[u8]; 5] = [
    include_bytes!("../../signing/fonts/DejaVuSans.ttf"),
    include_bytes!("../fonts/DejaVuSans-Bold.ttf"),
    include_bytes!("../fonts/DejaVuSans-Oblique.ttf"),
    include_bytes!("../fonts/DejaVuSans-BoldOblique.ttf"),
    include_bytes!("../../signing/fonts/DroidSansFallbackFull.ttf"),
];

/// What to typeset.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document's title (metadata and the header).
    pub title: String,
    /// A stable id (e.g. the instance id): the PDF's `/ID` derives from it.
    pub id: String,
    /// The body, Markdown, variables already substituted.
    pub markdown: String,
    /// A PNG for the header, if any.
    pub logo_png: Option<Vec<u8>>,
    /// The text language (`mn`, `en`, …): hyphenation and quotes.
    pub lang: String,
    /// Header text (beside the logo); the title when `None`.
    pub header: Option<String>,
    /// Footer text, above the page number.
    pub footer: Option<String>,
    /// The value of every `{{name}}` the Markdown uses, already formatted as text.
    pub variables: BTreeMap<String, String>,
}

/// What a clause's Markdown refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placeholders {
    /// Every `{{name}}`, sorted.
    pub variables: BTreeSet<String>,
    /// Every `{{signature:ROLE}}`, in order.
    pub signature_roles: Vec<String>,
}

/// The placeholders of `markdown` (a `{{` without its `}}` is left as text).
pub fn placeholders(markdown: &str) -> Placeholders {
    let mut found = Placeholders::default();
    let mut rest = markdown;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        if after[..end].contains("{{") {
            rest = after;
            continue;
        }
        match Placeholder::parse(&after[..end]) {
            Some(Placeholder::Signature(role)) => found.signature_roles.push(role.to_owned()),
            Some(Placeholder::Variable(name)) => {
                found.variables.insert(name.to_owned());
            }
            None => {}
        }
        rest = &after[end + 2..];
    }
    found
}

/// Checks Markdown the way [`render`] reads it (no HTML but the page break, closed
/// signature blocks, one block per role) without typesetting it; returns its placeholders.
pub fn check_markdown(markdown: &str) -> Result<Placeholders, RenderError> {
    let found = placeholders(markdown);
    let filled = found
        .variables
        .iter()
        .map(|name| (name.clone(), String::new()))
        .collect();
    markup(markdown, &filled)?;
    let mut roles = BTreeSet::new();
    if let Some(twice) = found.signature_roles.iter().find(|r| !roles.insert(*r)) {
        return Err(RenderError::DuplicateRole(twice.clone()));
    }
    Ok(found)
}

/// One `{{…}}`.
enum Placeholder<'a> {
    Signature(&'a str),
    Variable(&'a str),
}

impl<'a> Placeholder<'a> {
    /// `signature:ROLE`, or a variable name: letters, digits, `_` and `.`; else not a
    /// placeholder (the braces stay text).
    fn parse(inner: &'a str) -> Option<Self> {
        let inner = inner.trim();
        if let Some(role) = inner.strip_prefix("signature:") {
            return Some(Placeholder::Signature(role.trim()));
        }
        let valid = !inner.is_empty()
            && inner
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        valid.then_some(Placeholder::Variable(inner))
    }
}

/// Where a signature block landed.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureBox {
    /// The signer role named in `{{signature:ROLE}}`.
    pub role: String,
    /// 1-based page.
    pub page: u32,
    /// From the page's top-left corner, in points (as envelope fields are given).
    pub x: f64,
    /// From the top.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// A typeset document.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The PDF.
    pub pdf: Vec<u8>,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Pages.
    pub pages: usize,
    /// Each page's width and height, in points.
    pub page_sizes: Vec<(f64, f64)>,
    /// Every signature block, in document order.
    pub signature_boxes: Vec<SignatureBox>,
}

/// Why a document could not be typeset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The Markdown uses something clauses may not (raw HTML other than the page break).
    #[error("{0}")]
    Markdown(String),
    /// The same signer role has two signature blocks.
    #[error("the role {0:?} has more than one signature block")]
    DuplicateRole(String),
    /// `{{name}}` placeholders without a value.
    #[error("no value for {0:?}")]
    MissingVariables(Vec<String>),
    /// Typst refused the document (a bug of the prelude or translation, or a bad logo).
    #[error("typesetting failed: {0}")]
    Typeset(String),
}

/// Typst source of the page setup; `{title}`, `{lang}` and the logo are filled in.
fn prelude(document: &Document) -> String {
    let header_text = literal(document.header.as_deref().unwrap_or(&document.title));
    let header = if document.logo_png.is_some() {
        format!(
            "grid(columns: (1fr, auto), align: (left + horizon, right + horizon), \
             image(\"logo.png\", height: 0.8cm), text(size: 8pt, {header_text}))"
        )
    } else {
        format!("align(right, text(size: 8pt, {header_text}))")
    };
    let footer_text = document
        .footer
        .as_deref()
        .map(|footer| {
            format!(
                "text(size: 7.5pt, fill: luma(90), {}) + linebreak() + ",
                literal(footer)
            )
        })
        .unwrap_or_default();
    format!(
        "#set document(title: {title}, author: \"GSign\", date: none)\n\
         #set page(paper: \"a4\", margin: (x: 2cm, top: 2.5cm, bottom: 2.5cm), header: {header}, \
           footer: context align(center, {footer_text}text(size: 8pt, counter(page).display(\"1 / 1\", both: true))))\n\
         #set text(font: (\"DejaVu Sans\", \"Droid Sans Fallback\"), size: 10.5pt, lang: {lang})\n\
         #set par(justify: true)\n\
         #set table(stroke: 0.5pt + gray, inset: 6pt)\n\
         #let sigblock(role) = block(breakable: false, above: 1.5em)[\n\
           #box(width: {w}pt, height: {h}pt, stroke: 0.5pt + gray)[#place(top + left, metadata((sig: role)))]\n\
           #v(2pt) #text(size: 8pt, role)]\n",
        title = literal(&document.title),
        lang = literal(&document.lang),
        w = SIGNATURE_BLOCK.0,
        h = SIGNATURE_BLOCK.1,
    )
}

/// `text` as a Typst string literal (never markup).
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Markdown to Typst markup, text only as string literals, placeholders replaced.
fn markup(markdown: &str, variables: &BTreeMap<String, String>) -> Result<String, RenderError> {
    let mut out = String::new();
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut in_head = false;
    // The parser may split one run of text (at `_`, `{`, …); placeholders are found in the
    // whole run.
    let mut text = String::new();
    let mut missing = BTreeSet::new();
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Text(run) | Event::Code(run) => {
                text.push_str(&run);
                continue;
            }
            _ => flush_text(&mut out, &mut text, variables, &mut missing)?,
        }
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                let depth = match level {
                    HeadingLevel::H1 => 1,
                    HeadingLevel::H2 => 2,
                    _ => 3,
                };
                out.push_str(&"=".repeat(depth));
                out.push(' ');
            }
            Event::End(TagEnd::Heading(_)) | Event::End(TagEnd::Paragraph) => out.push_str("\n\n"),
            Event::Start(Tag::Paragraph) => {}
            Event::Start(Tag::Emphasis) => out.push_str("#emph["),
            Event::Start(Tag::Strong) => out.push_str("#strong["),
            Event::Start(Tag::Strikethrough) => out.push_str("#strike["),
            Event::End(TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough) => out.push(']'),
            // A list that resumes after a heading keeps its numbers.
            Event::Start(Tag::List(Some(start))) => {
                let _ = write!(out, "#enum(start: {start}, ");
            }
            Event::Start(Tag::List(None)) => out.push_str("#list("),
            Event::End(TagEnd::List(_)) => out.push_str(")\n\n"),
            Event::Start(Tag::Item) => out.push('['),
            Event::End(TagEnd::Item) => out.push_str("],"),
            Event::Start(Tag::Table(alignments)) => {
                let _ = write!(out, "#table(columns: {}, ", alignments.len().max(1));
            }
            Event::End(TagEnd::Table) => out.push_str(")\n\n"),
            Event::Start(Tag::TableHead) => {
                in_head = true;
                out.push_str("table.header(");
            }
            Event::End(TagEnd::TableHead) => {
                in_head = false;
                out.push_str("),");
            }
            Event::Start(Tag::TableCell) => out.push_str(if in_head { "[#strong[" } else { "[" }),
            Event::End(TagEnd::TableCell) => out.push_str(if in_head { "]]," } else { "]," }),
            Event::Start(Tag::TableRow) | Event::End(TagEnd::TableRow) => {}
            Event::Html(html) | Event::InlineHtml(html) => {
                if html.trim() == "<!-- pagebreak -->" {
                    out.push_str("#pagebreak()\n");
                } else {
                    return Err(RenderError::Markdown(format!(
                        "HTML is not allowed in clauses: {}",
                        html.trim()
                    )));
                }
            }
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push_str("\\\n"),
            Event::Rule => out.push_str("#line(length: 100%)\n\n"),
            _ => {}
        }
    }
    flush_text(&mut out, &mut text, variables, &mut missing)?;
    if !missing.is_empty() {
        return Err(RenderError::MissingVariables(missing.into_iter().collect()));
    }
    Ok(out)
}

/// Writes the buffered run of text as literals, its placeholders replaced by their values
/// (still literals) or by signature blocks.
fn flush_text(
    out: &mut String,
    text: &mut String,
    variables: &BTreeMap<String, String>,
    missing: &mut BTreeSet<String>,
) -> Result<(), RenderError> {
    let mut rest = text.as_str();
    let mut plain = String::new();
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            if after.trim_start().starts_with("signature:") {
                return Err(RenderError::Markdown(
                    "a {{signature:ROLE}} block is not closed".into(),
                ));
            }
            break;
        };
        plain.push_str(&rest[..start]);
        if after[..end].contains("{{") {
            // `{{ {{name}}`: the first braces are text.
            plain.push_str("{{");
            rest = after;
            continue;
        }
        match Placeholder::parse(&after[..end]) {
            Some(Placeholder::Signature(role)) => {
                let _ = write!(out, "#{};#sigblock({});", literal(&plain), literal(role));
                plain.clear();
            }
            Some(Placeholder::Variable(name)) => match variables.get(name) {
                Some(value) => plain.push_str(value),
                None => {
                    missing.insert(name.to_owned());
                }
            },
            None => {
                plain.push_str("{{");
                plain.push_str(&after[..end]);
                plain.push_str("}}");
            }
        }
        rest = &after[end + 2..];
    }
    plain.push_str(rest);
    if !plain.is_empty() {
        let _ = write!(out, "#{};", literal(&plain));
    }
    text.clear();
    Ok(())
}

fn file_id(path: &str) -> Result<FileId, RenderError> {
    let path = VirtualPath::new(path).map_err(|e| RenderError::Typeset(format!("{e:?}")))?;
    Ok(FileId::new(RootedPath::new(VirtualRoot::Project, path)))
}

/// The typesetter's whole world: the source, the fonts compiled in, the logo.
struct Sandbox {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    main: Source,
    logo: Option<(FileId, Bytes)>,
}

impl World for Sandbox {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }
    fn book(&self) -> &LazyHash<FontBook> {
        &self.book
    }
    fn main(&self) -> FileId {
        self.main.id()
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }
    fn file(&self, id: FileId) -> FileResult<Bytes> {
        match &self.logo {
            Some((logo, bytes)) if *logo == id => Ok(bytes.clone()),
            _ => Err(FileError::AccessDenied),
        }
    }
    fn font(&self, index: usize) -> Option<Font> {
        self.fonts.get(index).cloned()
    }
    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        // Fixed: the output depends on the inputs only.
        Datetime::from_ymd(2000, 1, 1)
    }
}

/// Typst's diagnostics, joined.
fn typeset_error(errors: &[typst::diag::SourceDiagnostic]) -> RenderError {
    RenderError::Typeset(
        errors
            .iter()
            .map(|e| e.message.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Typesets `document`.
pub fn render(document: &Document) -> Result<Rendered, RenderError> {
    let fonts: Vec<Font> = FONTS
        .iter()
        .flat_map(|bytes| Font::iter(Bytes::new(*bytes)))
        .collect();
    let source = format!(
        "{}\n{}",
        prelude(document),
        markup(&document.markdown, &document.variables)?
    );
    let logo = match &document.logo_png {
        Some(png) => Some((file_id("logo.png")?, Bytes::new(png.clone()))),
        None => None,
    };
    let world = Sandbox {
        library: LazyHash::new(Library::default()),
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
        main: Source::new(file_id("main.typ")?, source),
        logo,
    };
    let typeset = typst::compile::<PagedDocument>(&world);
    let paged = typeset.output.map_err(|errors| typeset_error(&errors))?;
    let introspector = paged.introspector();
    let mut signature_boxes: Vec<SignatureBox> = Vec::new();
    for element in introspector
        .elements()
        .query(&Selector::Elem(MetadataElem::ELEM, None))
    {
        let Some(location) = element.location() else {
            continue;
        };
        let Some(position) = introspector.position(location) else {
            continue;
        };
        let role = match element.get_by_name("value") {
            Ok(Value::Dict(dict)) => match dict.get("sig") {
                Ok(Value::Str(role)) => role.to_string(),
                _ => continue,
            },
            _ => continue,
        };
        if signature_boxes.iter().any(|b| b.role == role) {
            return Err(RenderError::DuplicateRole(role));
        }
        signature_boxes.push(SignatureBox {
            role,
            page: u32::try_from(position.page.get()).unwrap_or(u32::MAX),
            x: position.point.x.to_pt(),
            y: position.point.y.to_pt(),
            width: SIGNATURE_BLOCK.0,
            height: SIGNATURE_BLOCK.1,
        });
    }
    let options = typst_pdf::PdfOptions {
        ident: Smart::Custom(document.id.clone()),
        creator: Smart::Custom(Some(GENERATOR_VERSION.into())),
        timestamp: Datetime::from_ymd_hms(2000, 1, 1, 0, 0, 0).map(typst_pdf::Timestamp::new_utc),
        tagged: false,
        ..Default::default()
    };
    let pdf = typst_pdf::pdf(&paged, &options).map_err(|errors| typeset_error(&errors))?;
    Ok(Rendered {
        sha256: hex::encode(Sha256::digest(&pdf)),
        pages: paged.pages().len(),
        page_sizes: paged
            .pages()
            .iter()
            .map(|page| (page.frame.width().to_pt(), page.frame.height().to_pt()))
            .collect(),
        signature_boxes,
        pdf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(body: &str) -> Document {
        Document {
            title: "Худалдах, худалдан авах гэрээ".into(),
            id: "instance-1".into(),
            markdown: body.into(),
            logo_png: None,
            lang: "mn".into(),
            header: None,
            footer: Some("Гэрээ №1".into()),
            variables: BTreeMap::from([("buyer.name".to_owned(), "Батбаяр **Өлзий**".to_owned())]),
        }
    }

    #[test]
    fn the_same_inputs_give_the_same_bytes_and_other_text_other_bytes() {
        let body = "# Гэрээ\n\nХудалдан авагч **Батбаяр Өлзий** (Ө ө Ү ү).\n\n| Бараа | Дүн |\n|---|---|\n| Ширээ | 1,000,000₮ |\n";
        let first = render(&contract(body)).expect("typeset");
        let second = render(&contract(body)).expect("typeset");
        assert!(first.pdf.starts_with(b"%PDF-"));
        assert_eq!(first.sha256, second.sha256);
        let other = render(&contract(&body.replace("Ширээ", "Сандал"))).expect("typeset");
        assert_ne!(first.sha256, other.sha256);
    }

    #[test]
    fn signature_blocks_report_their_page_and_box_after_page_breaks() {
        let mut body = String::from("# Гэрээ\n\n");
        for i in 0..60 {
            let _ = write!(
                body,
                "Заалт {i}: талууд энэхүү гэрээний нөхцлийг хүлээн зөвшөөрнө.\n\n"
            );
        }
        body.push_str(
            "<!-- pagebreak -->\n\n## Гарын үсэг\n\n{{signature:buyer}}\n\n{{signature:seller}}\n",
        );
        let rendered = render(&contract(&body)).expect("typeset");
        assert!(rendered.pages >= 3, "{}", rendered.pages);
        let roles: Vec<&str> = rendered
            .signature_boxes
            .iter()
            .map(|b| b.role.as_str())
            .collect();
        assert_eq!(roles, ["buyer", "seller"]);
        let buyer = &rendered.signature_boxes[0];
        assert_eq!(
            buyer.page as usize, rendered.pages,
            "after the page break: {buyer:?}"
        );
        assert!(
            buyer.x > 50.0 && buyer.y > 60.0 && buyer.y + buyer.height < 842.0,
            "{buyer:?}"
        );
        assert!(rendered.signature_boxes[1].y > buyer.y + buyer.height);
    }

    #[test]
    fn variables_are_substituted_as_text_and_missing_ones_listed() {
        let rendered = render(&contract(
            "Худалдан авагч: {{ buyer.name }}; {{not a placeholder}}; {{ {{signature:buyer}}",
        ))
        .expect("typeset");
        assert_eq!(rendered.signature_boxes.len(), 1);
        assert_eq!(
            render(&contract("{{buyer.name}} {{seller.name}} {{price}}")).expect_err("refused"),
            RenderError::MissingVariables(vec!["price".into(), "seller.name".into()])
        );
        let found = placeholders("# {{title}}\n\n{{ buyer.name }} {{x y}}\n\n{{signature:buyer}}");
        assert_eq!(
            found.variables.into_iter().collect::<Vec<_>>(),
            ["buyer.name", "title"]
        );
        assert_eq!(found.signature_roles, ["buyer"]);
    }

    #[test]
    fn clause_text_never_becomes_markup_and_html_is_refused() {
        let hostile = "Name: #panic(\"x\") ]) #set page(width: 1pt) \\ \" {{ }} $x$";
        let rendered = render(&contract(hostile)).expect("typeset as text");
        assert_eq!(rendered.pages, 1);
        assert!(matches!(
            render(&contract("<script>alert(1)</script>")),
            Err(RenderError::Markdown(_))
        ));
        assert!(matches!(
            render(&contract("{{signature:a}}\n\n{{signature:a}}")),
            Err(RenderError::DuplicateRole(_))
        ));
    }
}
