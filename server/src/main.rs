use std::net::SocketAddr;
use std::process::ExitCode;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use latchkey_core::outbox::Transport;
use latchkey_core::{Db, EphemeralStore, MemoryStore, RedisStore, Services};
use server::config::{redact, Config, Sources};

#[derive(Parser)]
#[command(
    name = "latchkey",
    about = "Latchkey: accounts, sessions and email verification in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the app and API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Measure how many argon2id hashes per second this machine does with the
    /// configured parameters and HASH_WORKERS: the ceiling for log-ins per
    /// second. Use it to choose ARGON2_MEMORY_KIB / ARGON2_ITERATIONS.
    HashRate {
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Make an administrator: promote the account with this email, or create
    /// it. The password of a new account is asked for (or read from standard
    /// input), never taken as an argument.
    CreateAdmin {
        #[arg(long)]
        email: String,
        /// Used when the account is created.
        #[arg(long)]
        username: String,
        /// Promote an existing account whose address was never verified:
        /// end its sessions and clear its password first (whoever made it
        /// may not own the mailbox; the owner then signs in by code or
        /// sets a password with a reset link).
        #[arg(long)]
        reset: bool,
    },
    /// Rotate the token-signing keys now: the published successor of each
    /// key (or, where none is published yet, a new key) signs from now on;
    /// the next successor is published when due. Tokens of the old keys
    /// verify until they expire. Running instances follow within a minute.
    RotateKeys,
    /// Print the effective settings (secrets masked) and every problem at
    /// once: in the settings, and in reaching the database, Redis, SMTP,
    /// the built site and the addresses to listen on. Changes nothing.
    /// Exits 1 on any problem.
    CheckConfig,
    /// Print a mail as it would be sent, with sample values: the built-in
    /// words, or the MAIL_TEMPLATES files that replace them.
    PreviewMail {
        /// Which mail: verify_code, reset, password_changed, … (README,
        /// "Mail templates", lists them all).
        mail: String,
        /// en or ko.
        #[arg(long, default_value = "en")]
        lang: String,
        /// Print the HTML part instead of the text.
        #[arg(long)]
        html: bool,
    },
    /// Copy a SQLite database, consistently, while Latchkey keeps running
    /// (PostgreSQL: use pg_dump). The file must not exist yet.
    Backup {
        /// The new file to write, e.g. /var/backups/latchkey-$(date +%F).db
        #[arg(long)]
        to: std::path::PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    server::allocator::map_large_blocks();
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let sources = match Sources::load() {
        Ok(sources) => sources,
        Err(problem) => {
            eprintln!("Latchkey cannot start: {problem}");
            // check-config exits 1 on any problem, this one included.
            let check = matches!(cli.command, Some(Command::CheckConfig));
            return ExitCode::from(if check { 1 } else { 2 });
        }
    };
    // Log as text until the config says otherwise.
    let json_logs = match sources.get("LOG_FORMAT").as_deref() {
        Some("json") => true,
        Some("text") => false,
        _ => matches!(
            sources.get("LATCHKEY_ENV").as_deref(),
            Some("production" | "prod")
        ),
    };
    server::telemetry::init(json_logs);

    if let Some(Command::CheckConfig) = cli.command {
        let report = server::check::check(&sources).await;
        print!("{}", report.text);
        return if report.ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let config = match Config::load(&sources) {
        Ok(config) => config,
        Err(problems) => {
            eprintln!("Latchkey cannot start; fix the configuration:");
            for problem in problems {
                eprintln!("  - {problem}");
            }
            return ExitCode::from(2);
        }
    };
    match run(cli.command.unwrap_or(Command::Serve), config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Stderr, like the configuration problems above: a terminal or a
            // supervisor shows it either way.
            eprintln!("Latchkey stopped: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    if let Command::HashRate { seconds } = command {
        return hash_rate(&config, seconds).await;
    }
    if let Command::PreviewMail { mail, lang, html } = &command {
        return preview_mail(&config, mail, lang, *html);
    }
    // A backup of a file that is not there would be of a new, empty one.
    if matches!(command, Command::Backup { .. })
        && latchkey_core::db::inspect(&config.database_url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?
            == latchkey_core::db::Found::NotYet
    {
        anyhow::bail!(
            "there is no database at {}: check DATABASE_URL and the working directory",
            redact(&config.database_url)
        );
    }
    let db = Db::connect(&config.database_url).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot open the database at DATABASE_URL ({}): {e}",
            redact(&config.database_url)
        )
    })?;
    // A backup copies the database as it is, migrated or not.
    if let Command::Backup { to } = &command {
        db.backup_to(to).await.map_err(anyhow::Error::msg)?;
        println!("Wrote a copy of the database to {}", to.display());
        return Ok(());
    }
    db.migrate().await?;
    tracing::info!(backend = ?db.backend, "database ready, migrations applied");
    match command {
        Command::Migrate => return Ok(()),
        Command::RotateKeys => return rotate_keys(db, &config).await,
        _ => {}
    }
    let ephemeral: Arc<dyn EphemeralStore> = match &config.redis_url {
        Some(url) => Arc::new(
            RedisStore::connect(url, &config.redis_prefix)
                .await
                .map_err(|e| anyhow::anyhow!("cannot reach Redis at REDIS_URL: {e}"))?,
        ),
        None => {
            tracing::warn!("REDIS_URL is not set: codes and limits live in this process (run one instance only)");
            Arc::new(MemoryStore::new())
        }
    };
    if let Command::CreateAdmin {
        email,
        username,
        reset,
    } = command
    {
        return create_admin(db, ephemeral, config, &email, &username, reset).await;
    }

    if config.random_secret {
        tracing::warn!(
            "LATCHKEY_SECRET is not set: using a random development secret. \
             Every restart signs everyone out. Never run production like this."
        );
    }
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }

    let transport = Transport::from_url(config.smtp_url.as_deref()).map_err(anyhow::Error::msg)?;
    if config.smtp_url.is_none() {
        tracing::warn!("SMTP_URL is not set: emails are printed to this log instead of sent");
    }
    let services = Services::new(
        db,
        ephemeral,
        config.auth.clone(),
        Arc::new(config.letters()),
    );
    services
        .keys
        .ready()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the signing keys: {:?}", e.cause))?;
    // Unread, every event counts as wanted (safe, a little slower), and
    // the webhook worker reads them again within a second.
    if let Err(e) = services.read_webhook_subscriptions().await {
        tracing::warn!(cause = ?e.cause, "cannot read the webhook endpoints yet");
    }
    let forgotten = services
        .upstream()
        .forget_tokens_unless_kept()
        .await
        .map_err(|e| anyhow::anyhow!("cannot clear the providers' tokens: {:?}", e.cause))?;
    if forgotten > 0 {
        tracing::info!(
            count = forgotten,
            "UPSTREAM_KEEP_TOKENS is off: removed the providers' tokens kept before"
        );
    }
    if !services.passkeys().enabled() {
        tracing::warn!(
            "passkeys are off: PUBLIC_URL {} is an IP address, which browsers refuse them on \
             (use a domain name, e.g. http://localhost:3000)",
            config.public_url
        );
    }
    let (stop_workers, workers_stopped) = tokio::sync::watch::channel(false);
    let outbox = tokio::spawn({
        let services = services.clone();
        let stopped = workers_stopped.clone();
        async move { services.outbox().run_outbox(transport, stopped).await }
    });
    let webhooks = tokio::spawn({
        let services = services.clone();
        async move { services.webhooks().run_webhooks(workers_stopped).await }
    });
    let leptos_options = config.leptos_options().map_err(anyhow::Error::msg)?;
    if let Some(addr) = config.metrics_bind {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on METRICS_ADDR {addr}: {e}"))?;
        tracing::info!("metrics on http://{addr}/metrics");
        let metrics = server::metrics::router(services.clone());
        tokio::spawn(async move { axum::serve(listener, metrics).await });
    }
    let app = server::router::build_with(services, leptos_options, config.edge());

    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    tracing::info!(
        "Latchkey listening on http://{} (public URL {})",
        config.bind,
        config.public_url
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    // Let the workers finish the mail and deliveries in hand; the rest
    // waits in the database.
    let _ = stop_workers.send(true);
    let _ = tokio::join!(outbox, webhooks);
    tracing::info!("shut down cleanly");
    Ok(())
}

fn preview_mail(config: &Config, mail: &str, lang: &str, html: bool) -> anyhow::Result<()> {
    use latchkey_core::Letters;
    let letter = server::mail::sample(mail).ok_or_else(|| {
        let known: Vec<&str> = server::mail::MAILS.iter().map(|(m, _)| *m).collect();
        anyhow::anyhow!(
            "no mail is called {mail:?}; the mails are {}",
            known.join(", ")
        )
    })?;
    if app::locale::from_tag(lang).is_none() {
        anyhow::bail!("--lang takes en or ko, got {lang:?}");
    }
    let email = config
        .letters()
        .write(lang, &config.auth.product, "ada@example.com", letter);
    println!("Subject: {}\n", email.subject);
    println!("{}", if html { &email.html } else { &email.text });
    Ok(())
}

/// Keeps every hashing thread busy for `seconds`, as a flood of log-ins would.
async fn hash_rate(config: &Config, seconds: u64) -> anyhow::Result<()> {
    let params = &config.auth.hash_params;
    let workers = config.auth.hash_workers;
    let hasher = Arc::new(latchkey_core::Hasher::new(params.clone(), workers));
    let started = std::time::Instant::now();
    let deadline = started + std::time::Duration::from_secs(seconds);
    let mut jobs = tokio::task::JoinSet::new();
    // Twice the workers in flight, so a thread never waits for work.
    for _ in 0..workers * 2 {
        let hasher = hasher.clone();
        jobs.spawn(async move {
            let mut done = 0u64;
            while std::time::Instant::now() < deadline {
                hasher
                    .hash("a password of ordinary length".into())
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", app::error::AppError::from(e).message))?;
                done += 1;
            }
            Ok::<_, anyhow::Error>(done)
        });
    }
    let mut total = 0;
    while let Some(done) = jobs.join_next().await {
        total += done??;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!(
        "argon2id m={} KiB t={} p={} on {workers} threads: {rate:.1} hashes/s ({:.1} ms each per thread)",
        params.m_cost,
        params.t_cost,
        params.p_cost,
        1000.0 * workers as f64 / rate
    );
    Ok(())
}

async fn create_admin(
    db: Db,
    ephemeral: Arc<dyn EphemeralStore>,
    config: Config,
    email: &str,
    username: &str,
    reset: bool,
) -> anyhow::Result<()> {
    // With Redis, the running instances hear the change at once (it may
    // end sessions or change a role they hold in memory); without, the one
    // instance sees it within the 10 s its memory keeps anything.
    let letters = Arc::new(config.letters());
    let services = Services::new(db, ephemeral, config.auth, letters);
    let (admin, created) = services
        .admin()
        .create_admin(email, username, reset, read_password)
        .await
        .map_err(|e| anyhow::anyhow!("{}", app::error::AppError::from(e).message))?;
    let who = format!("{} <{}>", admin.user.username, admin.user.email);
    if created {
        println!("Created the administrator {who}.");
    } else {
        println!("{who} is now an administrator.");
    }
    Ok(())
}

async fn rotate_keys(db: Db, config: &Config) -> anyhow::Result<()> {
    let keys = Arc::new(latchkey_core::SigningKeys::new(
        db,
        Arc::new(latchkey_core::Tokens::new(&config.auth)),
        config.auth.keys.clone(),
        config.auth.access_ttl,
    ));
    let failed = |e: latchkey_core::Error| anyhow::anyhow!("keys not rotated: {:?}", e.cause);
    keys.rotate().await.map_err(failed)?;
    for alg in latchkey_core::signing_keys::Alg::ALL {
        let key = keys.signer(alg).await.map_err(failed)?;
        println!("{} now signs with {}", alg.name(), key.kid);
    }
    Ok(())
}

/// The new admin's password: asked twice at a terminal, else one line of
/// standard input (for scripts: `printf '%s\n' "$PW" | server create-admin …`).
fn read_password() -> Result<String, latchkey_core::Error> {
    use latchkey_core::{Error, ErrorCode, Reason};
    use std::io::{BufRead, IsTerminal};
    let unreadable = |e: std::io::Error| {
        Error::detailed(
            ErrorCode::BadRequest,
            format!("cannot read the password: {e}"),
        )
    };
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password for the new administrator: ")
            .map_err(unreadable)?;
        let again = rpassword::prompt_password("Repeat it: ").map_err(unreadable)?;
        if first != again {
            return Err(Error::invalid("password", Reason::PasswordsDiffer));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(unreadable)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            sig.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
