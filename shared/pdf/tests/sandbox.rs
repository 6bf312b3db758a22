//! `inspect_isolated` against the real inspector binary, and against stand-ins that misbehave.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gsign_pdf::{inspect_isolated, Limits, PageInfo, Rejection};

const INSPECTOR: &str = env!("CARGO_BIN_EXE_gsign-pdf-inspect");

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn short_limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(10),
        ..Limits::default()
    }
}

async fn verdict(program: &Path, name: &str, limits: &Limits) -> Result<PageCount, Rejection> {
    // A script another test is writing at the moment this one forks keeps a writable
    // descriptor in the child until it execs, and exec of a file open for writing fails with
    // ETXTBSY ("Text file busy"): a race of the tests' stand-ins, not of the real inspector
    // (a fixed binary nobody writes). Try again briefly.
    let mut tries = 0;
    loop {
        match inspect_isolated(program, &fixture(name), limits).await {
            Err(err) if err.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 20 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            answer => {
                return answer
                    .expect("the inspector runs")
                    .map(|info| PageCount(info.pages))
            }
        }
    }
}

#[derive(Debug, PartialEq)]
struct PageCount(Vec<PageInfo>);

/// A stand-in inspector: a shell script in the test's own scratch directory.
fn script(name: &str, body: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gsign-pdf-sandbox");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[tokio::test]
async fn good_pdf_comes_back_with_its_pages() {
    let pages = verdict(
        Path::new(INSPECTOR),
        "three-pages-rotated.pdf",
        &short_limits(),
    )
    .await
    .expect("accepted");
    let rotations: Vec<u16> = pages.0.iter().map(|page| page.rotation).collect();
    assert_eq!(rotations, [0, 90, 270]);
    assert_eq!((pages.0[0].width, pages.0[0].height), (612.0, 792.0));
}

#[tokio::test]
async fn hostile_pdfs_come_back_as_rejections_in_time() {
    let limits = short_limits();
    for (name, code) in [
        ("deep-nesting.pdf", "pdf_too_deep"),
        ("xref-w000-huge-index.pdf", "pdf_damaged"),
        ("broken-inline-image.pdf", "pdf_damaged"),
        ("encrypted.pdf", "pdf_encrypted"),
        ("not-a-pdf.pdf", "unsupported_type"),
    ] {
        let started = Instant::now();
        let rejection = verdict(Path::new(INSPECTOR), name, &limits)
            .await
            .expect_err(name);
        assert_eq!(rejection.code(), code, "{name}: {rejection}");
        assert!(started.elapsed() < limits.timeout, "{name} took too long");
    }
}

#[tokio::test]
async fn tiny_memory_limit_kills_the_child_not_us() {
    // Within the decompression budget, but not within 32 MiB of address space.
    let limits = Limits {
        max_memory_bytes: 32 * 1024 * 1024,
        ..short_limits()
    };
    let rejection = verdict(Path::new(INSPECTOR), "flate-bomb.pdf", &limits)
        .await
        .expect_err("cannot inflate it in 32 MiB");
    assert!(
        matches!(
            rejection,
            Rejection::ResourceLimit { .. } | Rejection::ParserCrashed { .. }
        ),
        "{rejection:?}"
    );
}

#[tokio::test]
async fn missing_program_is_our_failure_not_the_files() {
    let outcome = inspect_isolated(
        Path::new("/nonexistent/gsign-pdf-inspect"),
        &fixture("one-page.pdf"),
        &short_limits(),
    )
    .await;
    assert!(outcome.is_err(), "{outcome:?}");
}

#[tokio::test]
async fn unreadable_file_is_our_failure_not_the_files() {
    let outcome = inspect_isolated(
        Path::new(INSPECTOR),
        Path::new("/nonexistent/upload.pdf"),
        &short_limits(),
    )
    .await;
    let error = outcome.expect_err("the child cannot read the file");
    assert!(
        error.to_string().contains("cannot read the file"),
        "{error}"
    );
}

#[tokio::test]
async fn a_hanging_child_is_killed_at_the_timeout() {
    let hang = script("hang.sh", "exec /bin/sleep 60");
    let limits = Limits {
        timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let started = Instant::now();
    let rejection = verdict(&hang, "one-page.pdf", &limits)
        .await
        .expect_err("no answer");
    assert_eq!(rejection, Rejection::Timeout { seconds: 1 });
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn deaths_and_nonsense_are_crashes() {
    let limits = short_limits();
    let segv = script("segv.sh", "kill -SEGV $$");
    assert_eq!(
        verdict(&segv, "one-page.pdf", &limits).await,
        Err(Rejection::ParserCrashed {
            detail: "killed by signal 11".to_string()
        })
    );
    let xcpu = script("xcpu.sh", "kill -XCPU $$");
    assert_eq!(
        verdict(&xcpu, "one-page.pdf", &limits)
            .await
            .map_err(|rejection| rejection.code()),
        Err("inspection_resource_limit")
    );
    let nonsense = script("nonsense.sh", "echo '{\"ok\": 42}'");
    assert!(matches!(
        verdict(&nonsense, "one-page.pdf", &limits).await,
        Err(Rejection::ParserCrashed { .. })
    ));
    let failing = script("fail.sh", "exit 101");
    assert_eq!(
        verdict(&failing, "one-page.pdf", &limits).await,
        Err(Rejection::ParserCrashed {
            detail: "exited with status 101".to_string()
        })
    );
}

#[tokio::test]
async fn a_program_run_through_the_launcher_inherits_its_limits() {
    let limits = gsign_pdf::ProgramLimits {
        cpu_seconds: 7,
        memory_bytes: 3 << 30,
        file_bytes: 64 << 20,
    };
    let output = gsign_pdf::limited_command(Path::new(INSPECTOR), &limits, Path::new("/bin/sh"))
        .args([
            "-c",
            "ulimit -t; ulimit -v; ulimit -c; cat /proc/self/limits",
        ])
        .output()
        .await
        .expect("the launcher runs");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("7"), "CPU seconds: {text}");
    assert_eq!(
        lines.next(),
        Some((3u64 << 20).to_string().as_str()),
        "address space in KiB: {text}"
    );
    assert_eq!(lines.next(), Some("0"), "no core dumps: {text}");
    let file_size = text
        .lines()
        .find(|l| l.starts_with("Max file size"))
        .expect("limits listed");
    assert!(
        file_size.contains(&(64u64 << 20).to_string()),
        "{file_size}"
    );
}

#[tokio::test]
async fn the_launcher_refuses_bad_limits_without_running_anything() {
    let output = tokio::process::Command::new(INSPECTOR)
        .args([gsign_pdf::EXEC_LIMITED_ARG, "not json", "/bin/true"])
        .output()
        .await
        .expect("the launcher runs");
    assert_eq!(output.status.code(), Some(2));
}
