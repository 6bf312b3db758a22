//! Inspecting untrusted bytes in a child process.
//!
//! lopdf runs in the process that parses, and some failures cannot be caught there: a stack
//! overflow or a failed allocation aborts the process, and an endless loop never returns. So
//! the Lambda re-executes its own binary as an inspector ([`inspect_isolated`]); the child
//! limits its own address space and CPU time, inspects the file and prints its verdict as one
//! JSON line. The parent waits with a wall-clock timeout and reads the way the child died.
//!
//! Every binary that may act as the inspector calls [`child_main_if_requested`] first thing in
//! `main`, before it builds an async runtime: runtime threads reserve address space (stacks,
//! malloc arenas) that would count against the child's RLIMIT_AS.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitCode, Stdio};

use rlimit::Resource;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::{inspect, Limits, PdfInfo, Rejection};

/// The first argument that turns a binary into the inspector child.
pub const INSPECT_ARG: &str = "__gsign-inspect-pdf";

/// The child's exit code when it could not do its job for reasons that are ours, not the
/// file's: bad arguments, an unreadable file, limits it could not set.
const INFRASTRUCTURE_FAILURE: u8 = 2;

/// How much of the child's stderr is kept (the rest is read and dropped, so the child never
/// blocks on a full pipe).
const STDERR_KEPT: usize = 64 * 1024;

const SIGABRT: i32 = 6;
const SIGKILL: i32 = 9;
const SIGXCPU: i32 = 24;

/// The one line the child prints on stdout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Ok(PdfInfo),
    Rejected(Rejection),
}

/// The first argument that turns a binary into a launcher: lower its own rlimits to
/// `argv[2]` (JSON [`ProgramLimits`]), then `exec` the program `argv[3]` with the remaining
/// arguments, which inherits the limits (LibreOffice runs this way).
pub const EXEC_LIMITED_ARG: &str = "__gsign-exec-limited";

/// The resource limits of a program run through [`EXEC_LIMITED_ARG`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramLimits {
    /// CPU seconds (SIGXCPU past them, SIGKILL a second later).
    pub cpu_seconds: u64,
    /// Address space in bytes.
    pub memory_bytes: u64,
    /// Largest file it may write, in bytes (SIGXFSZ past it).
    pub file_bytes: u64,
}

/// A command that runs `program` under `limits` through `launcher` (a binary whose `main`
/// calls [`child_main_if_requested`]); add the program's arguments to it.
pub fn limited_command(launcher: &Path, limits: &ProgramLimits, program: &Path) -> Command {
    let mut command = Command::new(launcher);
    command
        .arg(EXEC_LIMITED_ARG)
        .arg(serde_json::to_string(limits).unwrap_or_default())
        .arg(program);
    command
}

fn exec_limited(args: &[OsString]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let failed = |message: String| {
        eprintln!("gsign-pdf launcher: {message}");
        ExitCode::from(INFRASTRUCTURE_FAILURE)
    };
    let (Some(limits), Some(program)) = (args.first(), args.get(1)) else {
        return failed(format!(
            "usage: {EXEC_LIMITED_ARG} <limits-json> <program> [args]"
        ));
    };
    let Some(limits) = limits
        .to_str()
        .and_then(|json| serde_json::from_str::<ProgramLimits>(json).ok())
    else {
        return failed("limits are not valid JSON".to_owned());
    };
    let limited = lower_limit(Resource::CPU, limits.cpu_seconds, limits.cpu_seconds + 1)
        .and_then(|()| lower_limit(Resource::AS, limits.memory_bytes, limits.memory_bytes))
        .and_then(|()| lower_limit(Resource::FSIZE, limits.file_bytes, limits.file_bytes))
        .and_then(|()| lower_limit(Resource::CORE, 0, 0));
    if let Err(error) = limited {
        return failed(format!("cannot set rlimits: {error}"));
    }
    // `exec` returns only when it failed.
    let error = std::process::Command::new(program).args(&args[2..]).exec();
    failed(format!(
        "cannot run {}: {error}",
        Path::new(program).display()
    ))
}

/// If this process was started as the inspector (`argv[1] == INSPECT_ARG`), be it: set
/// rlimits, inspect the file `argv[3]` under the limits in `argv[2]` (JSON), print the verdict,
/// and return the exit code for `main` to return. As a launcher (`argv[1] ==
/// EXEC_LIMITED_ARG`) it runs a program under limits instead. Otherwise `None`.
pub fn child_main_if_requested() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|first| first == EXEC_LIMITED_ARG) {
        return Some(exec_limited(&args.collect::<Vec<_>>()));
    }
    isolated_child_if_requested(INSPECT_ARG, |limits, bytes, _| {
        let answer = match inspect(bytes, limits) {
            Ok(info) => Answer::Ok(info),
            Err(rejection) => Answer::Rejected(rejection),
        };
        serde_json::to_string(&answer).map_err(|error| error.to_string())
    })
}

/// The work an isolated child does: from the limits, the file's bytes and the extra
/// arguments, the one line it answers.
pub type ChildJob = fn(&Limits, &[u8], &[OsString]) -> Result<String, String>;

/// If this process was started as the child for `arg` (`argv[1] == arg`), be it: set
/// rlimits from `argv[2]` (JSON [`Limits`]), read the file `argv[3]`, run `job` with the
/// remaining arguments, print its answer as one line, and return the exit code for `main`.
/// Otherwise `None`. Call it first thing in `main`, before any runtime starts.
pub fn isolated_child_if_requested(arg: &str, job: ChildJob) -> Option<ExitCode> {
    // `args_os`: `args` panics on arguments that are not UTF-8.
    let mut args = std::env::args_os().skip(1);
    if args.next()? != arg {
        return None;
    }
    let (limits, file) = (args.next(), args.next());
    let extra: Vec<OsString> = args.collect();
    Some(match run_child(arg, limits, file, &extra, job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gsign-pdf isolated child: {message}");
            ExitCode::from(INFRASTRUCTURE_FAILURE)
        }
    })
}

fn run_child(
    arg: &str,
    limits: Option<OsString>,
    file: Option<OsString>,
    extra: &[OsString],
    job: ChildJob,
) -> Result<(), String> {
    let (Some(limits), Some(file)) = (limits, file) else {
        return Err(format!("usage: {arg} <limits-json> <file> [args]"));
    };
    let limits: Limits = limits
        .to_str()
        .ok_or("limits are not UTF-8")
        .and_then(|json| serde_json::from_str(json).map_err(|_| "limits are not valid JSON"))?;
    set_own_limits(&limits).map_err(|error| format!("cannot set rlimits: {error}"))?;
    let bytes = std::fs::read(&file).map_err(|error| format!("cannot read the file: {error}"))?;
    let line = job(&limits, &bytes, extra)?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("cannot answer: {error}"))
}

/// Lower this process's limits (never raise them): address space, CPU time, no core dumps.
fn set_own_limits(limits: &Limits) -> io::Result<()> {
    let cpu_seconds = limits.timeout_seconds().saturating_add(1);
    // Past the soft limit the kernel sends SIGXCPU, past the hard one SIGKILL.
    lower_limit(Resource::CPU, cpu_seconds, cpu_seconds.saturating_add(1))?;
    lower_limit(
        Resource::AS,
        limits.max_memory_bytes,
        limits.max_memory_bytes,
    )?;
    lower_limit(Resource::CORE, 0, 0)
}

fn lower_limit(resource: Resource, soft: u64, hard: u64) -> io::Result<()> {
    let (_, current_hard) = rlimit::getrlimit(resource)?;
    let hard = hard.min(current_hard);
    rlimit::setrlimit(resource, soft.min(hard), hard)
}

/// Inspect `file` in a child process: `program INSPECT_ARG <limits json> <file>`.
///
/// The outer `Err` is our own failure (the program cannot be started, its pipes fail, it
/// rejects its arguments or cannot read the file): retryable, not the file's fault. The inner
/// result is the verdict on the file: the child's answer, or [`Rejection::Timeout`] when it
/// runs past `limits.timeout` (it is killed), [`Rejection::ResourceLimit`] when it dies of its
/// CPU or memory limit, [`Rejection::ParserCrashed`] when it dies otherwise or answers nonsense.
pub async fn inspect_isolated(
    program: &Path,
    file: &Path,
    limits: &Limits,
) -> Result<Result<PdfInfo, Rejection>, io::Error> {
    // Room for the answer about the largest allowed document.
    let stdout_kept = usize::try_from(limits.max_pages)
        .unwrap_or(usize::MAX)
        .saturating_mul(256)
        .saturating_add(64 * 1024);
    Ok(
        run_isolated(program, INSPECT_ARG, file, &[], limits, stdout_kept)
            .await?
            .and_then(|line| read_answer(&line)),
    )
}

/// Runs `program <arg> <limits json> <file> <extra...>` (a binary that calls
/// [`isolated_child_if_requested`] for `arg`) and returns its answer line, or the way it died
/// as a [`Rejection`] (see [`inspect_isolated`]). At most `stdout_kept` bytes are accepted.
pub async fn run_isolated(
    program: &Path,
    arg: &str,
    file: &Path,
    extra: &[OsString],
    limits: &Limits,
    stdout_kept: usize,
) -> Result<Result<Vec<u8>, Rejection>, io::Error> {
    let limits_json = serde_json::to_string(limits).map_err(io::Error::other)?;
    let mut child = Command::new(program)
        .arg(arg)
        .arg(limits_json)
        .arg(file)
        .args(extra)
        // Nothing from our environment (credentials included) reaches the parser.
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(io::Error::other("the child's pipes are missing"));
    };
    let run = async {
        tokio::join!(
            read_bounded(stdout, stdout_kept),
            read_bounded(stderr, STDERR_KEPT),
            child.wait()
        )
    };
    let (stdout, stderr, status) = match tokio::time::timeout(limits.timeout, run).await {
        Ok((stdout, stderr, status)) => (stdout?, stderr?, status?),
        Err(_elapsed) => {
            // `kill_on_drop` would also kill it; this reaps it too. It may have just exited.
            let _ = child.kill().await;
            return Ok(Err(Rejection::Timeout {
                seconds: limits.timeout_seconds(),
            }));
        }
    };
    let stderr = String::from_utf8_lossy(&stderr.0);
    if let Some(signal) = status.signal() {
        return Ok(Err(death_by_signal(signal, &stderr)));
    }
    let crashed = |detail: String| Ok(Err(Rejection::ParserCrashed { detail }));
    match status.code() {
        Some(0) if stdout.1 => crashed("the child answered too much".into()),
        Some(0) => match stdout
            .0
            .split(|&byte| byte == b'\n')
            .rfind(|line| !line.is_empty())
        {
            Some(line) => Ok(Ok(line.to_vec())),
            None => crashed("the child did not answer".into()),
        },
        Some(code) if code == i32::from(INFRASTRUCTURE_FAILURE) => Err(io::Error::other(format!(
            "the isolated child failed: {}",
            stderr.trim()
        ))),
        Some(code) => crashed(format!("exited with status {code}")),
        None => crashed("exited without a status".to_string()),
    }
}

fn death_by_signal(signal: i32, stderr: &str) -> Rejection {
    match signal {
        SIGXCPU => Rejection::ResourceLimit {
            detail: "CPU time limit exceeded".to_string(),
        },
        // The hard CPU limit, or the kernel's OOM killer.
        SIGKILL => Rejection::ResourceLimit {
            detail: format!("killed by signal {signal}"),
        },
        // Rust aborts when an allocation fails, e.g. against RLIMIT_AS.
        SIGABRT if stderr.contains("memory allocation of") => Rejection::ResourceLimit {
            detail: "memory limit exceeded".to_string(),
        },
        _ => Rejection::ParserCrashed {
            detail: format!("killed by signal {signal}"),
        },
    }
}

fn read_answer(line: &[u8]) -> Result<PdfInfo, Rejection> {
    match serde_json::from_slice(line) {
        Ok(Answer::Ok(info)) => Ok(info),
        Ok(Answer::Rejected(rejection)) => Err(rejection),
        Err(_) => Err(Rejection::ParserCrashed {
            detail: "the inspector answered nonsense".to_string(),
        }),
    }
}

/// Read `reader` to its end, keeping the first `keep` bytes; says whether more came.
async fn read_bounded(
    mut reader: impl AsyncRead + Unpin,
    keep: usize,
) -> io::Result<(Vec<u8>, bool)> {
    let mut kept = Vec::new();
    let mut more = false;
    let mut buffer = [0u8; 8192];
    loop {
        let read = reader.read(&mut buffer).await?;
        if read == 0 {
            return Ok((kept, more));
        }
        let room = keep.saturating_sub(kept.len());
        more |= read > room;
        kept.extend_from_slice(&buffer[..read.min(room)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_as_one_line() {
        let line = serde_json::to_string(&Answer::Rejected(Rejection::NoPages)).expect("json");
        assert_eq!(line, r#"{"rejected":{"code":"pdf_no_pages"}}"#);
        assert_eq!(read_answer(line.as_bytes()), Err(Rejection::NoPages));
        assert!(matches!(
            read_answer(b"garbage"),
            Err(Rejection::ParserCrashed { .. })
        ));
        assert!(matches!(
            read_answer(b""),
            Err(Rejection::ParserCrashed { .. })
        ));
    }

    #[test]
    fn signals_map_to_limits_or_crashes() {
        assert_eq!(
            death_by_signal(SIGABRT, "memory allocation of 4096 bytes failed"),
            Rejection::ResourceLimit {
                detail: "memory limit exceeded".to_string()
            }
        );
        assert_eq!(
            death_by_signal(SIGABRT, "thread 'main' has overflowed its stack"),
            Rejection::ParserCrashed {
                detail: "killed by signal 6".to_string()
            }
        );
        assert_eq!(
            death_by_signal(SIGXCPU, "").code(),
            "inspection_resource_limit"
        );
        assert_eq!(death_by_signal(11, "").code(), "pdf_parser_crashed");
    }
}
