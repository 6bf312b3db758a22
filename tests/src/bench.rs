//! Helpers the benchmarks share: big valid PDFs, peak memory of this process, and the
//! `openssl dgst -sha256` floor.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// A valid one-page PDF of about `size` bytes: the bulk is an uncompressed image XObject the
/// page draws, like a scanned contract.
pub fn make_pdf(path: &Path, size: usize) -> std::io::Result<()> {
    let mut out: Vec<u8> = Vec::with_capacity(size + 4096);
    let mut offsets = Vec::new();
    out.extend_from_slice(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
    let mut object = |out: &mut Vec<u8>, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    object(&mut out, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(&mut out, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    object(
        &mut out,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
    );
    let draw = b"q 595 0 0 842 0 0 cm /Im1 Do Q";
    let mut contents = format!("<< /Length {} >>\nstream\n", draw.len()).into_bytes();
    contents.extend_from_slice(draw);
    contents.extend_from_slice(b"\nendstream");
    object(&mut out, &contents);
    // A grey image whose pixels are pseudo-random bytes (incompressible, like a scan).
    let side = ((size.saturating_sub(2048)) as f64).sqrt().max(1.0) as usize;
    let mut pixels = vec![0u8; side * side];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for byte in pixels.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = (state >> 24) as u8;
    }
    let mut image = format!(
        "<< /Type /XObject /Subtype /Image /Width {side} /Height {side} /ColorSpace /DeviceGray /BitsPerComponent 8 /Length {} >>\nstream\n",
        pixels.len()
    )
    .into_bytes();
    image.extend_from_slice(&pixels);
    image.extend_from_slice(b"\nendstream");
    object(&mut out, &image);
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for offset in &offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    std::fs::write(path, out)
}

/// This process's peak resident set in KiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

pub fn openssl_seconds(path: &Path) -> anyhow::Result<(f64, String)> {
    let mut best = f64::MAX;
    let mut digest = String::new();
    for _ in 0..3 {
        let started = Instant::now();
        let out = Command::new("openssl")
            .args(["dgst", "-sha256", "-r"])
            .arg(path)
            .output()?;
        best = best.min(started.elapsed().as_secs_f64());
        anyhow::ensure!(out.status.success(), "openssl failed");
        digest = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
    }
    Ok((best, digest))
}

/// A valid A4 text document of `pages` pages (Helvetica, about 40 lines each, a contract's
/// worth of text), as the envelope benchmarks send for signature. Its page tree is flat (one
/// node holding every page, as LibreOffice writes it): the worst case for a viewer, which must
/// read every page's object, spread over the whole file, to reach the last one.
pub fn contract_pdf(pages: usize) -> Vec<u8> {
    contract_pdf_with_tree(pages, None)
}

/// [`contract_pdf`] with its pages grouped `fanout` to a node under the root (as Acrobat and
/// most producers write long documents) when `fanout` is given.
pub fn contract_pdf_with_tree(pages: usize, fanout: Option<usize>) -> Vec<u8> {
    let mut out: Vec<u8> = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |out: &mut Vec<u8>, number: usize, body: &[u8]| {
        offsets.push((number, out.len()));
        out.extend_from_slice(format!("{number} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    // 1 catalog, 2 pages, 3 font; page i is 4 + 2i, its content 5 + 2i; the intermediate
    // nodes of a grouped tree follow the pages.
    object(&mut out, 1, b"<< /Type /Catalog /Pages 2 0 R >>");
    let groups: Vec<std::ops::Range<usize>> = match fanout {
        Some(size) if size > 0 && pages > size => (0..pages)
            .step_by(size)
            .map(|from| from..(from + size).min(pages))
            .collect(),
        _ => Vec::new(),
    };
    let group_object = |g: usize| 4 + 2 * pages + g;
    let parent_of = |page: usize| {
        fanout
            .filter(|_| !groups.is_empty())
            .map_or(2, |size| group_object(page / size))
    };
    let kids: Vec<String> = if groups.is_empty() {
        (0..pages).map(|i| format!("{} 0 R", 4 + 2 * i)).collect()
    } else {
        (0..groups.len())
            .map(|g| format!("{} 0 R", group_object(g)))
            .collect()
    };
    object(
        &mut out,
        2,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        )
        .as_bytes(),
    );
    object(
        &mut out,
        3,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    );
    for i in 0..pages {
        object(
            &mut out,
            4 + 2 * i,
            format!(
                "<< /Type /Page /Parent {} 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                parent_of(i),
                5 + 2 * i
            )
            .as_bytes(),
        );
        let mut text = String::from("BT /F1 10 Tf 56 790 Td 13 TL\n");
        for line in 0..40 {
            text.push_str(&format!(
                "(Clause {}.{line}: the parties agree to the terms set out in this section.) '\n",
                i + 1
            ));
        }
        text.push_str("ET");
        let mut stream = format!("<< /Length {} >>\nstream\n", text.len()).into_bytes();
        stream.extend_from_slice(text.as_bytes());
        stream.extend_from_slice(b"\nendstream");
        object(&mut out, 5 + 2 * i, &stream);
    }
    for (g, members) in groups.iter().enumerate() {
        let kids: Vec<String> = members
            .clone()
            .map(|i| format!("{} 0 R", 4 + 2 * i))
            .collect();
        object(
            &mut out,
            group_object(g),
            format!(
                "<< /Type /Pages /Parent 2 0 R /Kids [{}] /Count {} >>",
                kids.join(" "),
                members.len()
            )
            .as_bytes(),
        );
    }
    let xref = out.len();
    // Objects 0 (free) to the last page's content or group node.
    let size = 4 + 2 * pages + groups.len();
    let mut entries = vec![0usize; size];
    for (number, offset) in &offsets {
        entries[*number] = *offset;
    }
    out.extend_from_slice(format!("xref\n0 {size}\n0000000000 65535 f \n").as_bytes());
    for offset in &entries[1..] {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
    );
    out
}

/// Shows the functions' warnings and errors (`RUST_LOG=info` for more) as text beside a
/// benchmark's figures.
pub fn show_function_logs() {
    let env = gsign_core::Env::from_process();
    let env = if env.get("RUST_LOG").is_none() {
        env.with("RUST_LOG", "warn")
    } else {
        env
    };
    gsign_platform::telemetry::init(&env.with("GSIGN_LOG_FORMAT", "text"));
}

/// What a bench's figures came from: the build profile, the machine's load averages and its
/// cores. Every bench prints it before its figures.
pub fn provenance() -> String {
    let profile = if cfg!(debug_assertions) {
        "debug (dev profile, unoptimized)"
    } else {
        "release (optimized)"
    };
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|line| {
            line.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    format!("build: {profile}; load average 1/5/15 min: {load}; cores: {cores}")
}

/// The parameters of a stack that benchmarks drive over HTTP: signatures timestamped by
/// `tsa`, completed documents locked in GOVERNANCE mode (so the stack can be torn down), and
/// per-IP limits out of the way (every client of a benchmark shares one IP: the limits would
/// measure themselves).
pub fn signing_stack_parameters(tsa: &crate::pki::LocalTsa) -> [(&'static str, String); 4] {
    [
        ("TsaUrl", tsa.url.clone()),
        ("RetentionMode", "GOVERNANCE".to_owned()),
        ("RateLimitPerIp", "1000000".to_owned()),
        ("RateLimitSensitivePerIp", "1000000".to_owned()),
    ]
}

/// For benches whose figures depend on GSign's own code being optimized (the stack runs in
/// the bench's process, so it is built like the bench): prints [`provenance`], and refuses a
/// debug build, saying so, unless `GSIGN_BENCH_ALLOW_DEBUG=1` (then the figures are
/// labelled by the provenance line).
pub fn require_optimized(bench: &str) {
    println!("{bench}: {}", provenance());
    if cfg!(debug_assertions) && std::env::var_os("GSIGN_BENCH_ALLOW_DEBUG").is_none() {
        eprintln!(
            "{bench}: refusing to measure a debug build: its figures are not comparable with a \
             release build's. Run `cargo bench -p gsign-tests --bench {bench}` (release), or set \
             GSIGN_BENCH_ALLOW_DEBUG=1 to measure the debug build anyway."
        );
        std::process::exit(2);
    }
}

#[cfg(test)]
mod tests {
    fn qpdf_check(pdf: Vec<u8>) -> String {
        let path = std::env::temp_dir().join(format!("contract-{}.pdf", crate::unique()));
        std::fs::write(&path, pdf).expect("write");
        let check = std::process::Command::new("qpdf")
            .arg("--check")
            .arg(&path)
            .output()
            .expect("qpdf runs");
        let _ = std::fs::remove_file(&path);
        let report = String::from_utf8_lossy(&check.stdout).into_owned();
        assert!(check.status.success(), "{report}");
        assert!(
            report.contains("No syntax or stream encoding errors"),
            "{report}"
        );
        report
    }

    #[test]
    fn the_contract_pdf_is_valid_for_qpdf_with_every_page() {
        qpdf_check(super::contract_pdf(3));
    }

    #[test]
    fn the_grouped_contract_pdf_is_valid_and_groups_its_pages() {
        qpdf_check(super::contract_pdf_with_tree(120, Some(50)));
        let document = lopdf::Document::load_mem(&super::contract_pdf_with_tree(120, Some(50)))
            .expect("lopdf");
        assert_eq!(document.get_pages().len(), 120);
        let root = document
            .catalog()
            .and_then(|catalog| catalog.get(b"Pages"))
            .and_then(lopdf::Object::as_reference)
            .and_then(|id| document.get_dictionary(id))
            .expect("the root page node");
        let kids = root
            .get(b"Kids")
            .and_then(lopdf::Object::as_array)
            .expect("kids");
        assert_eq!(kids.len(), 3, "120 pages, 50 to a node");
    }
}
