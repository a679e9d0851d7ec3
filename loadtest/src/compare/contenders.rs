//! The contenders of `compare`: what each one is, how it is started, and the
//! requests it gets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::mix::{Mix, MixError, MixFile, TemplateFile};
use crate::procstat::Probe;

use super::gateway::{self, GatewayFiles, IdentityMode};
use super::nginx;
use super::process::{Running, StartError, free_port};

/// Every contender, in report order.
pub const ALL: [Kind; 15] = [
    Kind::Upstream,
    Kind::Pingora,
    Kind::Nginx,
    Kind::NginxTls,
    Kind::GatewayHeader,
    Kind::GatewayAssertion,
    Kind::GatewayTls,
    Kind::GatewayPool,
    Kind::GatewayJwt,
    Kind::GatewayJwtNoCache,
    Kind::GatewayJwtRsa,
    Kind::GatewayJwtRsaNoCache,
    Kind::GatewayDenied,
    Kind::GatewayLargePolicy,
    Kind::GatewayReloading,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Upstream,
    Pingora,
    Nginx,
    NginxTls,
    GatewayHeader,
    GatewayAssertion,
    GatewayTls,
    GatewayPool,
    GatewayJwt,
    GatewayJwtNoCache,
    GatewayJwtRsa,
    GatewayJwtRsaNoCache,
    GatewayDenied,
    GatewayLargePolicy,
    GatewayReloading,
}

impl Kind {
    /// Short id used by `--only` and in JSON.
    pub const fn id(self) -> &'static str {
        match self {
            Kind::Upstream => "upstream",
            Kind::Pingora => "pingora",
            Kind::Nginx => "nginx",
            Kind::NginxTls => "nginx-tls",
            Kind::GatewayHeader => "gw-header",
            Kind::GatewayAssertion => "gw-assertion",
            Kind::GatewayTls => "gw-tls",
            Kind::GatewayPool => "gw-pool",
            Kind::GatewayJwt => "gw-jwt",
            Kind::GatewayJwtNoCache => "gw-jwt-nocache",
            Kind::GatewayJwtRsa => "gw-jwt-rs256",
            Kind::GatewayJwtRsaNoCache => "gw-jwt-rs256-nocache",
            Kind::GatewayDenied => "gw-denied",
            Kind::GatewayLargePolicy => "gw-policy-l",
            Kind::GatewayReloading => "gw-reload",
        }
    }

    /// What the row means.
    pub const fn title(self) -> &'static str {
        match self {
            Kind::Upstream => "1 upstream directly",
            Kind::Pingora => "2 pingora pass-through",
            Kind::Nginx => "3 nginx proxy_pass",
            Kind::NginxTls => "3 nginx, TLS listener",
            Kind::GatewayHeader => "4 gateway allowed, header identity",
            Kind::GatewayAssertion => "4 … with a signed assertion (EdDSA)",
            Kind::GatewayTls => "4 … TLS listener",
            Kind::GatewayPool => "4 … three-address pool",
            Kind::GatewayJwt => "5 gateway allowed, ES256 JWT cache warm",
            Kind::GatewayJwtNoCache => "5 gateway allowed, ES256 JWT cache off",
            Kind::GatewayJwtRsa => "5 gateway allowed, RS256 JWT cache warm",
            Kind::GatewayJwtRsaNoCache => "5 gateway allowed, RS256 JWT cache off",
            Kind::GatewayDenied => "6 gateway denied",
            Kind::GatewayLargePolicy => "7 gateway allowed, L policy",
            Kind::GatewayReloading => "8 gateway allowed, reload/100 ms",
        }
    }

    pub fn parse(id: &str) -> Option<Kind> {
        ALL.into_iter().find(|k| k.id() == id)
    }

    pub const fn is_gateway(self) -> bool {
        !matches!(
            self,
            Kind::Upstream | Kind::Pingora | Kind::Nginx | Kind::NginxTls
        )
    }

    /// Whether the contender's listener speaks TLS.
    pub const fn is_tls(self) -> bool {
        matches!(self, Kind::NginxTls | Kind::GatewayTls)
    }
}

/// A started contender, ready for load.
#[derive(Debug)]
pub struct Contender {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub mix: Arc<Mix>,
    pub probe: Probe,
    /// The process (`None` for the upstream, which the comparison owns).
    pub process: Option<Running>,
    /// Policy files to rewrite while this contender is measured.
    pub reload: Option<GatewayFiles>,
    /// The gateway's admin listener (`/metrics`).
    pub admin: Option<SocketAddr>,
    /// The TLS client config the load uses (TLS listeners only).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Where things are and how they are set up.
#[derive(Debug)]
pub struct Setup {
    pub dir: PathBuf,
    pub upstream: SocketAddr,
    /// The upstream's three addresses (the pool contender's members).
    pub pool: Vec<SocketAddr>,
    /// The certificate the TLS listeners serve (nginx and the gateway alike).
    pub tls: super::tls::Material,
    pub upstream_pid: u32,
    pub passthrough_bin: PathBuf,
    pub gateway_bin: Option<PathBuf>,
    pub nginx_bin: Option<PathBuf>,
    pub threads: usize,
    /// `RUST_LOG` for the gateway processes.
    pub gateway_log: String,
    pub seed: u64,
    pub ready_timeout: Duration,
}

/// Why a contender did not start.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Mix(#[from] MixError),
    #[error(transparent)]
    Token(#[from] gateway::TokenError),
    #[error(transparent)]
    LargePolicy(#[from] gateway::LargePolicyError),
    #[error(
        "`reqflo-gateway` not found; build it (`cargo build --release -p reqflo-gateway`) or pass `--gateway-bin`"
    )]
    NoGateway,
}

/// Started, or skipped with the reason.
#[derive(Debug)]
pub enum Prepared {
    Ready(Box<Contender>),
    Skipped(String),
}

/// The request every contender gets: one run of `checkout` in `staging`.
fn run_template(
    name: &str,
    headers: &[(&str, &str)],
    token: Option<String>,
    expect: u16,
) -> TemplateFile {
    let mut all: BTreeMap<String, String> =
        [("content-type".to_owned(), "application/json".to_owned())].into();
    for (k, v) in headers {
        all.insert((*k).to_owned(), (*v).to_owned());
    }
    TemplateFile {
        name: name.to_owned(),
        weight: 1,
        method: "POST".to_owned(),
        path: gateway::RUN_PATH.to_owned(),
        headers: all,
        body: Some(r#"{"inputs":{"cart":"c-123"}}"#.to_owned()),
        token,
        expect: vec![expect],
    }
}

fn mix_for(kind: Kind) -> Result<Mix, PrepareError> {
    let alice = [(gateway::USER_HEADER, gateway::ALLOWED_USER)];
    let template = match kind {
        Kind::GatewayJwt | Kind::GatewayJwtNoCache => run_template(
            "allowed-jwt",
            &[],
            Some(gateway::token(gateway::ALLOWED_USER)?),
            200,
        ),
        Kind::GatewayJwtRsa | Kind::GatewayJwtRsaNoCache => run_template(
            "allowed-jwt-rs256",
            &[],
            Some(gateway::rsa_token(gateway::ALLOWED_USER)?),
            200,
        ),
        Kind::GatewayDenied => run_template(
            "denied-header",
            &[(gateway::USER_HEADER, gateway::DENIED_USER)],
            None,
            403,
        ),
        _ => run_template("allowed-header", &alice, None, 200),
    };
    let file = MixFile {
        name: Some(kind.id().to_owned()),
        requests: vec![template],
    };
    Ok(Mix::compile(&file, &|_| None)?)
}

/// Starts one contender (blocking until it accepts connections).
pub fn prepare(kind: Kind, setup: &Setup) -> Result<Prepared, PrepareError> {
    let mix = Arc::new(mix_for(kind)?);
    if kind == Kind::Upstream {
        return Ok(Prepared::Ready(Box::new(Contender {
            kind,
            addr: setup.upstream,
            mix,
            probe: Probe::new(setup.upstream_pid),
            process: None,
            reload: None,
            admin: None,
            tls: None,
        })));
    }
    let addr = free_port()?;
    let dir = setup.dir.join(kind.id());
    std::fs::create_dir_all(&dir)?;
    let mut reload = None;
    let mut admin = None;
    let mut running = match kind {
        Kind::Upstream => unreachable!("handled above"),
        Kind::Pingora => {
            let mut command = std::process::Command::new(&setup.passthrough_bin);
            command
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--upstream")
                .arg(setup.upstream.to_string())
                .arg("--threads")
                .arg(setup.threads.to_string());
            Running::spawn(
                "pingora pass-through",
                command,
                super::process::Stop::Kill,
                Some(&dir.join("stderr.log")),
            )?
        }
        Kind::Nginx => match &setup.nginx_bin {
            None => {
                return Ok(Prepared::Skipped(
                    "nginx is not installed (optional: `apt-get install nginx`)".to_owned(),
                ));
            }
            Some(bin) => nginx::start(bin, &dir, addr, setup.upstream, setup.threads, None)?,
        },
        Kind::NginxTls => match &setup.nginx_bin {
            None => {
                return Ok(Prepared::Skipped(
                    "nginx is not installed (optional: `apt-get install nginx`)".to_owned(),
                ));
            }
            Some(bin) => {
                let files = setup.tls.write(&dir)?;
                nginx::start(bin, &dir, addr, setup.upstream, setup.threads, Some(&files))?
            }
        },
        _ => {
            let bin = setup
                .gateway_bin
                .as_deref()
                .ok_or(PrepareError::NoGateway)?;
            let (files, admin_addr) = gateway_files(kind, setup, &dir, addr)?;
            admin = Some(admin_addr);
            let running =
                gateway::start(kind.id(), bin, &files, setup.threads, &setup.gateway_log)?;
            if kind == Kind::GatewayReloading {
                reload = Some(files);
            }
            running
        }
    };
    let timeout = if kind == Kind::GatewayLargePolicy {
        setup.ready_timeout * 4
    } else {
        setup.ready_timeout
    };
    running.wait_ready(addr, timeout)?;
    Ok(Prepared::Ready(Box::new(Contender {
        kind,
        addr,
        mix,
        probe: Probe::new(running.pid()),
        process: Some(running),
        reload,
        admin,
        tls: kind.is_tls().then(|| setup.tls.client.clone()),
    })))
}

fn gateway_files(
    kind: Kind,
    setup: &Setup,
    dir: &Path,
    addr: SocketAddr,
) -> Result<(GatewayFiles, SocketAddr), PrepareError> {
    let identity = match kind {
        Kind::GatewayJwt => IdentityMode::Jwt {
            cache: true,
            rsa: false,
        },
        Kind::GatewayJwtNoCache => IdentityMode::Jwt {
            cache: false,
            rsa: false,
        },
        Kind::GatewayJwtRsa => IdentityMode::Jwt {
            cache: true,
            rsa: true,
        },
        Kind::GatewayJwtRsaNoCache => IdentityMode::Jwt {
            cache: false,
            rsa: true,
        },
        _ => IdentityMode::TrustedHeader,
    };
    let policy = if kind == Kind::GatewayLargePolicy {
        gateway::large_policy(setup.seed)?
    } else {
        gateway::small_policy(None)
    };
    let admin = free_port()?;
    let upstreams: Vec<SocketAddr> = if kind == Kind::GatewayPool {
        setup.pool.clone()
    } else {
        vec![setup.upstream]
    };
    let mut config = gateway::route_config(addr, admin, &upstreams, identity, "policy.yaml");
    if kind == Kind::GatewayTls {
        setup.tls.write(dir)?;
        config = config.replace(
            &format!("  admin: {admin}\n"),
            &format!(
                "  admin: {admin}\n  tls:\n    certificate: {}\n    key: {}\n    http2: false\n",
                super::tls::CERT_FILE,
                super::tls::KEY_FILE
            ),
        );
    }
    if kind == Kind::GatewayAssertion {
        std::fs::write(dir.join("assertion-ed25519.pem"), gateway::ASSERTION_KEY)?;
        config.push_str(
            "assertion:\n  algorithm: EdDSA\n  kid: loadtest\n  key: assertion-ed25519.pem\n",
        );
    }
    Ok((gateway::write_files(dir, &config, &policy)?, admin))
}
