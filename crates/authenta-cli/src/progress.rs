//! Progress on stderr, only when stderr is a terminal and the output is not
//! JSON: a byte bar per upload, then a spinner with the record's status
//! while it processes. When hidden, every method does nothing.

use std::time::Duration;

use authenta_reqwest::types::MediaStatus;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one command.
#[derive(Clone)]
pub struct Bars {
    multi: Option<MultiProgress>,
}

/// One bar (or none, when progress is hidden).
#[derive(Clone)]
pub struct Bar(Option<ProgressBar>);

impl Bars {
    /// Bars drawn on stderr when `show`, else nothing.
    pub fn new(show: bool) -> Bars {
        Bars {
            multi: show.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// A byte bar for uploading `size` bytes of `label`.
    pub fn upload(&self, label: &str, size: u64) -> Bar {
        self.bar(
            || ProgressBar::new(size),
            label,
            "{prefix} [{bar:30}] {bytes}/{total_bytes}",
        )
    }

    /// A spinner for waiting on `label`.
    pub fn spinner(&self, label: &str) -> Bar {
        let bar = self.bar(ProgressBar::new_spinner, label, SPINNER);
        bar.spin();
        bar
    }

    /// A count of the files done out of `total`, its clock moving on its
    /// own (not only when a file finishes).
    pub fn count(&self, total: usize) -> Bar {
        let bar = self.bar(
            || ProgressBar::new(total as u64),
            "",
            "{pos}/{len} done, {elapsed}",
        );
        bar.spin();
        bar
    }

    /// Removes every bar still drawn (after an interruption, before the
    /// table).
    pub fn clear(&self) {
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }

    /// A bar made by `make` (only when shown: a `ProgressBar` parses its
    /// default style's template when it is made, 15 thousand instructions
    /// a file of a batch whose progress is hidden), styled by `template`.
    fn bar(&self, make: impl FnOnce() -> ProgressBar, label: &str, template: &str) -> Bar {
        Bar(self.multi.as_ref().map(|multi| {
            let bar = multi.add(make());
            bar.set_style(style(template));
            bar.set_prefix(label.to_owned());
            bar
        }))
    }

    /// Prints a line on stderr without breaking the bars.
    pub fn note(&self, line: &str) {
        let line = crate::output::terminal_safe(line);
        match &self.multi {
            Some(multi) => multi.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

const SPINNER: &str = "{prefix} {spinner} {msg} {elapsed}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("the templates are valid")
        .progress_chars("=> ")
}

impl Bar {
    /// A callback for [`UploadOptions::on_progress`](authenta_reqwest::UploadOptions::on_progress).
    pub fn on_bytes(&self) -> impl Fn(u64, u64) + Send + Sync + 'static {
        let bar = self.0.clone();
        move |sent, _total| {
            if let Some(bar) = &bar {
                bar.set_position(sent);
            }
        }
    }

    /// Turns the bar into a spinner that shows the record's status.
    pub fn status(&self, status: &MediaStatus) {
        self.message(&status.to_string());
    }

    /// Turns the bar into a spinner that shows `text` (a job's status).
    pub fn message(&self, text: &str) {
        if let Some(bar) = &self.0 {
            if bar.length().is_some() {
                bar.set_style(style(SPINNER));
                bar.unset_length();
                bar.enable_steady_tick(Duration::from_millis(120));
            }
            bar.set_message(crate::output::terminal_safe(text));
        }
    }

    /// Redraws on its own, so the clock moves between updates.
    fn spin(&self) {
        if let Some(bar) = &self.0 {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
    }

    /// One more done (for [`Bars::count`]).
    pub fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    /// Removes the bar.
    pub fn done(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
