//! Generated documents (#8 groundwork) judged by others' tools: qpdf's structure check,
//! pdffonts (every font embedded), pdftotext (the substituted Mongolian values read back),
//! and a rendered page that has ink where the text and table are.

use gsign_render::{render, Document};
use gsign_tests::pki::{dark_pixels, run, TestPki};

#[test]
fn a_generated_contract_passes_qpdf_embeds_every_font_and_reads_back() {
    let pki = TestPki::new();
    let mut markdown = String::from(
        "# Худалдах, худалдан авах гэрээ\n\nЭнэхүү гэрээг **Батбаяр Өлзий-Үүрийн** (цаашид *Худалдан авагч*) \
         болон **陈静** хооронд байгуулав.\n\n## 1. Үнэ\n\n| Бараа | Тоо | Дүн |\n|---|---|---|\n| Ширээ | 2 | 1,000,000₮ |\n| Сандал | 8 | 640,000₮ |\n\n\
         1. Төлбөрийг 30 хоногийн дотор хийнэ.\n2. Хүргэлтийг худалдагч хариуцна.\n\n",
    );
    for i in 0..40 {
        markdown.push_str(&format!(
            "{}. Талууд энэхүү заалтыг хүлээн зөвшөөрнө; маргааныг хэлэлцээрээр шийднэ.\n\n",
            i + 3
        ));
    }
    markdown.push_str(
        "<!-- pagebreak -->\n\n## Гарын үсэг\n\n{{signature:buyer}}\n\n{{signature:seller}}\n",
    );
    let rendered = render(&Document {
        title: "Гэрээ №2026-118".into(),
        id: "instance-e2e".into(),
        markdown,
        logo_png: None,
        lang: "mn".into(),
        header: None,
        footer: Some("Нууц. Зөвхөн талуудад.".into()),
        variables: Default::default(),
    })
    .expect("typeset");
    let file = pki.write("contract.pdf", &rendered.pdf);

    let (ok, report) = run("qpdf", &["--check", &file]);
    assert!(
        ok && report.contains("No syntax or stream encoding errors"),
        "{report}"
    );
    let (ok, fonts) = run("pdffonts", &[&file]);
    assert!(ok, "{fonts}");
    let rows: Vec<&str> = fonts
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(!rows.is_empty(), "{fonts}");
    for row in &rows {
        let columns: Vec<&str> = row.split_whitespace().collect();
        // name type encoding emb sub uni object ID
        let emb = columns[columns.len() - 5];
        assert_eq!(emb, "yes", "a font is not embedded:\n{fonts}");
    }
    let (ok, text) = run("pdftotext", &["-layout", &file, "-"]);
    assert!(ok, "{text}");
    for needle in [
        "Батбаяр Өлзий-Үүрийн",
        "陈静",
        "1,000,000₮",
        "Сандал",
        "Гарын үсэг",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let (ok, out) = run(
        "pdftoppm",
        &[
            "-r",
            "40",
            "-gray",
            "-f",
            "1",
            "-l",
            "1",
            &file,
            &pki.write("page", b""),
        ],
    );
    assert!(ok, "{out}");
    let page = std::fs::read_dir(std::path::Path::new(&file).parent().expect("dir"))
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.to_string_lossy().contains("page-") || p.extension().is_some_and(|x| x == "pgm")
        })
        .expect("a rendered page");
    assert!(
        dark_pixels(&std::fs::read(page).expect("pgm")) > 2000,
        "the page is blank"
    );
    assert_eq!(rendered.signature_boxes.len(), 2);
    assert_eq!(rendered.signature_boxes[0].page as usize, rendered.pages);
}
