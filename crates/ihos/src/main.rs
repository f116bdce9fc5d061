//! The ihos binary: `serve`, `migrate`, `demo`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[cfg(feature = "analytics")]
mod export;
#[cfg(feature = "analytics")]
mod index;
use ihos_server::{Settings, app, demo};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ihos", version, about = "ihos internet hospital platform")]
struct Cli {
    /// Settings file (TOML); IHOS_* environment variables override it.
    #[arg(long, global = true, env = "IHOS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrations are applied on start).
    Serve {
        /// Listen address, e.g. 127.0.0.1:8080 (port 0 picks a free one).
        #[arg(long)]
        bind: Option<String>,
        /// Load the demo consortium first (once) and print its accounts.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Load the demo consortium and print its accounts once.
    Demo,
    /// Analytics: influence index, digitalisation index, operations report, synthetic events.
    #[cfg(feature = "analytics")]
    #[command(subcommand)]
    Index(index::IndexCommand),
    /// Create a platform admin (first install). The password is read from
    /// IHOS_ADMIN_PASSWORD, or generated and printed once.
    CreateAdmin {
        #[arg(long)]
        name: String,
        #[arg(long)]
        phone: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (mut settings, notes) = Settings::load(cli.config.as_deref())?;
    app::init_logging(&settings.log_format);
    for note in notes {
        tracing::warn!("{note}");
    }
    match cli.command {
        Command::Serve {
            bind,
            demo: with_demo,
        } => {
            if let Some(b) = bind {
                settings.bind = b;
            }
            let state = ihos_server::build_state(settings).await?;
            if let Some(handle) = ihos_server::install_metrics() {
                let _ = state.metrics.set(handle);
            }
            if with_demo {
                demo::print_accounts(&demo::load(&state).await?);
            }
            ihos_server::serve(state, ihos_server::shutdown_signal()).await
        }
        Command::Migrate => {
            ihos_server::build_state(settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::CreateAdmin { name, phone } => {
            let state = ihos_server::build_state(settings).await?;
            let (password, generated) = match std::env::var("IHOS_ADMIN_PASSWORD") {
                Ok(p) if !p.is_empty() => (p, false),
                _ => (demo::password(), true),
            };
            let id = ihos_server::identity::service::create_platform_admin(
                &state, &name, &phone, &password,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
            println!("platform admin {id} created; log in with phone {phone}");
            if generated {
                println!("password (shown only now): {password}");
            }
            Ok(())
        }
        #[cfg(feature = "analytics")]
        Command::Index(cmd) => index::run(cmd, settings).await,
        Command::Demo => {
            let state = ihos_server::build_state(settings).await?;
            demo::print_accounts(&demo::load(&state).await?);
            Ok(())
        }
    }
}
