//! Log output: `tracing`, as text or one JSON object per line, with pingora's
//! `log` records bridged in.

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (fields at the top level).
    Json,
}

/// The default filter: our decisions at info, pingora's chatter at warn.
pub const DEFAULT_FILTER: &str = "info,pingora=warn,pingora_core=warn,pingora_proxy=warn";

/// Installs the global subscriber (once; later calls are ignored). `RUST_LOG`
/// overrides [`DEFAULT_FILTER`].
pub fn init(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // `log` records above the most verbose level anything listens to are
    // dropped by `log` itself, before any formatting (pingora has many `debug!`s).
    let log_max = match filter.max_level_hint() {
        Some(level) => tracing_log::AsLog::as_log(&level),
        None => log::LevelFilter::Trace,
    };
    // Colours only for a person at a terminal, never into a log file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => tracing::subscriber::set_global_default(builder.finish()),
        LogFormat::Json => tracing::subscriber::set_global_default(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .finish(),
        ),
    };
    if installed.is_ok() {
        // pingora logs through `log`; forward those records into `tracing`.
        let _ = tracing_log::LogTracer::builder()
            .with_max_level(log_max)
            .init();
    }
}
