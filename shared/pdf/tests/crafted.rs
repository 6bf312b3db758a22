//! Edge cases built in memory: page-tree shapes, page boxes, and limits reached inside
//! object streams (where the byte scan cannot see).

use gsign_pdf::{inspect, Limits, PageInfo, Rejection};
use lopdf::{dictionary, Document, Object, SaveOptions};

/// A classic-xref PDF from object bodies (object 1 is the catalog).
fn pdf(objects: &[&str]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (index, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", index + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn with_page(page: &str) -> Vec<u8> {
    pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        page,
    ])
}

fn only_page(bytes: &[u8]) -> PageInfo {
    let info = inspect(bytes, &Limits::default()).expect("accepted");
    assert_eq!(info.page_count, 1);
    info.pages[0]
}

/// A one-page document saved by lopdf with object streams and an xref stream, holding `extra`
/// as an additional object referenced from the catalog.
fn in_object_stream(extra: Object) -> Vec<u8> {
    let mut document = Document::with_version("1.7");
    let pages = document.new_object_id();
    let extra = document.add_object(extra);
    let page = document.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages,
        "MediaBox" => vec![0.into(), 0.into(), 200.into(), 100.into()],
    });
    document.objects.insert(
        pages,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page.into()],
            "Count" => 1,
        }),
    );
    let catalog = document.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages,
        "Extra" => extra,
    });
    document.trailer.set("Root", catalog);
    let options = SaveOptions::builder()
        .use_object_streams(true)
        .use_xref_streams(true)
        .build();
    let mut bytes = Vec::new();
    document
        .save_with_options(&mut bytes, options)
        .expect("saved");
    bytes
}

fn nested(levels: usize) -> Object {
    let mut object = Object::Integer(1);
    for _ in 0..levels {
        object = Object::Array(vec![object]);
    }
    object
}

#[test]
fn empty_file() {
    assert_eq!(inspect(b"", &Limits::default()), Err(Rejection::Empty));
}

#[test]
fn boxes_and_rotation() {
    let page = only_page(&with_page(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 800] /CropBox [500 700 700 900] /Rotate 450 >>",
    ));
    // The CropBox is clipped to the MediaBox; 450 degrees is 90.
    assert_eq!(
        page,
        PageInfo {
            width: 100.0,
            height: 100.0,
            rotation: 90
        }
    );
    let page = only_page(&with_page(
        "<< /Type /Page /Parent 2 0 R /MediaBox [600 800 0 0] /CropBox [900 900 1000 1000] /Rotate 45 >>",
    ));
    // Corners in any order; a CropBox outside the MediaBox and a /Rotate of 45 are ignored.
    assert_eq!(
        page,
        PageInfo {
            width: 600.0,
            height: 800.0,
            rotation: 0
        }
    );
    let page = only_page(&with_page(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 1 1] /Rotate -180 >>",
    ));
    assert_eq!(page.rotation, 180);
}

#[test]
fn indirect_media_box() {
    let bytes = pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox 4 0 R >>",
        "[0 0 5 0 R 300]",
        "200.5",
    ]);
    assert_eq!(
        only_page(&bytes),
        PageInfo {
            width: 200.5,
            height: 300.0,
            rotation: 0
        }
    );
}

#[test]
fn broken_page_trees() {
    let damaged = |bytes: &[u8]| match inspect(bytes, &Limits::default()) {
        Err(Rejection::Damaged { detail }) => detail,
        other => panic!("expected damaged, got {other:?}"),
    };
    assert_eq!(
        damaged(&with_page("<< /Type /Page /Parent 2 0 R >>")),
        "page 1 has no valid /MediaBox"
    );
    assert_eq!(
        damaged(&pdf(&[
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
        ])),
        "its page tree has a loop or a shared node"
    );
    assert_eq!(
        damaged(&pdf(&[
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R 3 0 R] /Count 2 /MediaBox [0 0 1 1] >>",
            "<< /Type /Page /Parent 2 0 R >>",
        ])),
        "its page tree has a loop or a shared node"
    );
    assert_eq!(
        damaged(&with_page("<< /Type /Annot /Parent 2 0 R >>")),
        "a node of its page tree is neither /Pages nor /Page"
    );
    assert_eq!(
        damaged(&pdf(&["<< /Type /Catalog >>"])),
        "it has no page tree"
    );
}

#[test]
fn no_pages() {
    let bytes = pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [] /Count 0 >>",
    ]);
    assert_eq!(inspect(&bytes, &Limits::default()), Err(Rejection::NoPages));
}

#[test]
fn deep_page_tree() {
    // Ten levels of /Pages above the page.
    let mut objects = vec!["<< /Type /Catalog /Pages 2 0 R >>".to_string()];
    for level in 0..10 {
        objects.push(format!(
            "<< /Type /Pages /Kids [{} 0 R] /Count 1 /MediaBox [0 0 10 10] >>",
            level + 3
        ));
    }
    objects.push("<< /Type /Page /Parent 11 0 R >>".to_string());
    let objects: Vec<&str> = objects.iter().map(String::as_str).collect();
    let bytes = pdf(&objects);
    let limits = Limits {
        max_depth: 8,
        ..Limits::default()
    };
    assert_eq!(
        inspect(&bytes, &limits),
        Err(Rejection::TooDeep { limit: 8 })
    );
    assert!(inspect(&bytes, &Limits::default()).is_ok());
}

#[test]
fn depth_inside_an_object_stream() {
    let bytes = in_object_stream(nested(80));
    // The byte scan skips stream data, so this is the load filter's catch.
    let info = inspect(
        &bytes,
        &Limits {
            max_depth: 100,
            ..Limits::default()
        },
    )
    .expect("accepted");
    assert!(info.has_object_streams && info.has_xref_stream);
    assert_eq!(
        inspect(&bytes, &Limits::default()),
        Err(Rejection::TooDeep { limit: 64 })
    );
}

#[test]
fn objects_inside_an_object_stream_count() {
    let bytes = in_object_stream(Object::Null);
    let total = inspect(&bytes, &Limits::default())
        .expect("accepted")
        .object_count;
    let limits = Limits {
        max_objects: total - 1,
        ..Limits::default()
    };
    assert_eq!(
        inspect(&bytes, &limits),
        Err(Rejection::TooManyObjects { limit: total - 1 })
    );
}

#[test]
fn deeper_than_lopdf_parses_is_damage() {
    // lopdf's parser refuses more than 100 levels and, loading leniently, drops the object.
    let deep = format!("{}{}", "[".repeat(150), "]".repeat(150));
    let bytes = pdf(&[
        "<< /Type /Catalog /Pages 2 0 R /Extra 4 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>",
        &deep,
    ]);
    let limits = Limits {
        max_depth: 200,
        ..Limits::default()
    };
    assert_eq!(
        inspect(&bytes, &limits),
        Err(Rejection::Damaged {
            detail: "1 of its objects do not parse".to_string()
        })
    );
}

#[test]
fn content_stream_with_unknown_filter_is_damage() {
    let bytes = pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Contents 4 0 R >>",
        "<< /Filter /NoSuchDecode /Length 1 >>\nstream\nx\nendstream",
    ]);
    assert_eq!(
        inspect(&bytes, &Limits::default()),
        Err(Rejection::Damaged {
            detail: "a content stream of page 1 does not decode".to_string()
        })
    );
}
