//! What the user sees while and after copies run: progress on stderr
//! (indicatif bars on a terminal, plain periodic lines with
//! `--progress always` elsewhere), a summary table on stdout, or with
//! `--json` one JSON document on stdout instead. Everything shown passes
//! through the redactor.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::connect::{Counters, Output};
use crate::error::{self, ExitKind};
use crate::security::redact::redact;
use crate::spec::Copy;

/// `--progress`: bars on a terminal with `auto`; `always` also prints plain
/// periodic lines when stderr is not a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotStarted,
    Succeeded,
    DryRun,
    Failed,
    Refused,
    VerificationFailed,
    Interrupted,
}

impl Status {
    fn exit_kind(self) -> ExitKind {
        match self {
            Status::NotStarted | Status::Succeeded | Status::DryRun => ExitKind::Success,
            Status::Failed => ExitKind::Failed,
            Status::Refused => ExitKind::Policy,
            Status::VerificationFailed => ExitKind::Verify,
            Status::Interrupted => ExitKind::Interrupted,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorReport {
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
    pub exit_code: i32,
}

impl ErrorReport {
    pub fn from_error(e: &anyhow::Error) -> ErrorReport {
        let mut msgs = error::messages(e);
        let message = msgs.remove(0);
        ErrorReport {
            message,
            causes: msgs,
            hint: error::hint(e).map(|h| redact(&h)),
            exit_code: error::exit_kind(e).code(),
        }
    }
}

/// Where a copy's stage run is.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// `s3://lake/convoy-stage/<run id>/`: what `convoy load` takes.
    pub run: String,
    pub run_id: String,
    pub encrypted: bool,
    /// Whether the run is still there after the copy.
    pub kept: bool,
}

/// One copy's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CopyReport {
    pub name: String,
    pub source: String,
    pub sink: String,
    pub mode: String,
    pub status: Status,
    pub rows_read: u64,
    pub rows_written: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    #[serde(rename = "duration_s", serialize_with = "secs")]
    pub duration: Duration,
    pub rows_per_s: f64,
    pub schema: Option<String>,
    pub details: Vec<String>,
    pub outputs: Vec<Output>,
    pub warnings: Vec<String>,
    /// The stage run a staged copy, an extract or a load used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<StageReport>,
    /// Insecure settings this copy used (allowed by `--allow-insecure`).
    pub insecure: Vec<String>,
    pub error: Option<ErrorReport>,
    #[serde(skip)]
    pub rendered_error: Option<String>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl CopyReport {
    /// A copy not yet run: `source` and `sink` describe its endpoints.
    pub fn new(copy: &Copy, source: String, sink: String) -> CopyReport {
        CopyReport {
            name: copy.name.clone(),
            source,
            sink,
            mode: copy.mode.name().to_string(),
            status: Status::NotStarted,
            rows_read: 0,
            rows_written: 0,
            bytes_read: 0,
            bytes_written: 0,
            duration: Duration::ZERO,
            rows_per_s: 0.0,
            schema: None,
            details: Vec::new(),
            outputs: Vec::new(),
            warnings: Vec::new(),
            stage: None,
            insecure: Vec::new(),
            error: None,
            rendered_error: None,
        }
    }

    pub fn fail(&mut self, e: &anyhow::Error) {
        self.status = match error::exit_kind(e) {
            ExitKind::Policy | ExitKind::Usage => Status::Refused,
            ExitKind::Verify => Status::VerificationFailed,
            ExitKind::Interrupted => Status::Interrupted,
            _ => Status::Failed,
        };
        self.error = Some(ErrorReport::from_error(e));
        self.rendered_error = Some(error::render(e));
    }

    pub fn exit_kind(&self) -> ExitKind {
        match (&self.error, self.status) {
            (Some(e), _) if e.exit_code == 2 => ExitKind::Usage,
            (_, s) => s.exit_kind(),
        }
    }

    fn finalize(&mut self) {
        let secs = self.duration.as_secs_f64();
        self.rows_per_s = if secs > 0.0 {
            (self.rows_read as f64 / secs).round()
        } else {
            0.0
        };
    }
}

/// The exit status of a whole run: the most serious of its copies.
pub fn run_exit(reports: &[CopyReport]) -> ExitKind {
    reports
        .iter()
        .map(CopyReport::exit_kind)
        .max_by_key(|k| k.severity())
        .unwrap_or(ExitKind::Success)
}

/// The JSON summary document.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    pub convoy_version: &'static str,
    pub command: &'a str,
    pub status: &'static str,
    pub exit_code: i32,
    pub dry_run: bool,
    pub run_id: &'a str,
    pub started_at: String,
    #[serde(serialize_with = "secs")]
    pub duration_s: Duration,
    pub insecure: Vec<String>,
    pub copies: &'a [CopyReport],
    pub error: Option<ErrorReport>,
}

pub fn status_word(kind: ExitKind) -> &'static str {
    match kind {
        ExitKind::Success => "succeeded",
        ExitKind::Failed => "failed",
        ExitKind::Usage => "usage_error",
        ExitKind::Policy => "refused",
        ExitKind::Verify => "verification_failed",
        ExitKind::Interrupted => "interrupted",
    }
}

/// Print the JSON document (redacted) on stdout.
pub fn print_json(summary: &Summary) {
    let text = serde_json::to_string_pretty(summary).expect("the summary serialises");
    println!("{}", redact(&text));
}

pub fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

/// Print the summary table on stdout and errors/warnings on stderr.
pub fn print_human(reports: &mut [CopyReport], quiet: bool) {
    for r in reports.iter_mut() {
        r.finalize();
    }
    for r in reports.iter() {
        for w in &r.warnings {
            eprintln!("warning: {}: {}", r.name, redact(w));
        }
        if let Some(e) = &r.rendered_error {
            eprint!(
                "{}",
                e.replacen("error: ", &format!("error: {}: ", r.name), 1)
            );
        }
    }
    if quiet {
        return;
    }
    let header = [
        "copy",
        "status",
        "rows",
        "written",
        "time",
        "rows/s",
        "destination",
    ];
    let rows: Vec<[String; 7]> = reports
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                serde_json::to_value(r.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                r.rows_read.to_string(),
                human_bytes(r.bytes_written),
                format!("{:.2}s", r.duration.as_secs_f64()),
                format!("{:.0}", r.rows_per_s),
                r.sink.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if (2..=5).contains(&i) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(&header.map(String::from)));
    for row in &rows {
        println!("{}", redact(&line(row)));
    }
    for r in reports.iter().filter(|r| r.status == Status::DryRun) {
        println!("\n{} (dry run: nothing was written)", r.name);
        println!("  source: {}", redact(&r.source));
        for d in &r.details {
            println!("  {}", redact(d));
        }
        println!("  destination: {}", redact(&r.sink));
    }
    for r in reports.iter() {
        if let Some(st) = r.stage.as_ref().filter(|s| s.kept) {
            if r.status == Status::Succeeded {
                println!("stage run: {}", redact(&st.run));
            }
        }
    }
}

impl Summary<'_> {
    pub fn finalize(reports: &mut [CopyReport]) {
        for r in reports.iter_mut() {
            r.finalize();
        }
    }
}

/// Progress display for a run.
pub struct Progress {
    mode: ProgressMode,
    quiet: bool,
    bars: Option<MultiProgress>,
}

impl Progress {
    pub fn new(mode: ProgressMode, quiet: bool) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bars = (!quiet && mode != ProgressMode::Never && tty)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)));
        Progress { mode, quiet, bars }
    }

    /// Start showing one copy's progress.
    pub fn start(&self, name: &str, counters: Arc<Counters>) -> CopyProgress {
        if let Some(multi) = &self.bars {
            let bar = multi.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:.bold} {bar:30.cyan/blue} {bytes}/{total_bytes} {msg} ({elapsed})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(name.to_string());
            let b = bar.clone();
            let c = counters.clone();
            let started = Instant::now();
            let task = tokio::spawn(async move {
                loop {
                    let rows = c.rows.load(Ordering::Relaxed);
                    b.set_length(c.bytes_total.load(Ordering::Relaxed));
                    b.set_position(c.bytes_read.load(Ordering::Relaxed));
                    let rate = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
                    b.set_message(format!("{rows} rows, {rate:.0} rows/s"));
                    tokio::time::sleep(Duration::from_millis(125)).await;
                }
            });
            return CopyProgress {
                bar: Some(bar),
                task: Some(task),
                last_line: None,
            };
        }
        if !self.quiet && self.mode == ProgressMode::Always {
            let line = plain_line(name.to_string(), counters, Instant::now());
            eprintln!("{}: started", name);
            let ticker = line.clone();
            let task = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PLAIN_EVERY).await;
                    eprintln!("{}", ticker());
                }
            });
            return CopyProgress {
                bar: None,
                task: Some(task),
                last_line: Some(line),
            };
        }
        CopyProgress {
            bar: None,
            task: None,
            last_line: None,
        }
    }
}

/// How often `--progress always` prints a line when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

type LineFn = Arc<dyn Fn() -> String + Send + Sync>;

fn plain_line(name: String, counters: Arc<Counters>, started: Instant) -> LineFn {
    Arc::new(move || {
        let rows = counters.rows.load(Ordering::Relaxed);
        let read = counters.bytes_read.load(Ordering::Relaxed);
        let total = counters.bytes_total.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        redact(&format!(
            "{name}: {rows} rows, {} of {} read, {:.0} rows/s, {:.1}s",
            human_bytes(read),
            human_bytes(total),
            rows as f64 / secs.max(0.001),
            secs
        ))
    })
}

pub struct CopyProgress {
    bar: Option<ProgressBar>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// Plain mode: the last line is printed when the copy ends.
    last_line: Option<LineFn>,
}

impl CopyProgress {
    pub fn finish(self) {
        if let Some(t) = self.task {
            t.abort();
        }
        if let Some(line) = self.last_line {
            eprintln!("{}", line());
        }
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}
