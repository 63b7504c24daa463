//! A simulator of Cybrid's identity service, for tests and demos: no test
//! may reach a real Cybrid host (CYBRID.md), yet verification and revocation
//! must be exercised over real HTTP, faults included.
//!
//! It serves `POST /oauth/token` (Doorkeeper client credentials: JSON or
//! form body, or HTTP Basic), `GET`/`DELETE /api/{bank,organization}_applications/{client_id}`
//! and `POST /api/{bank,organization}_applications` (create, with the API-keys
//! guide's IP allowlist rules) with bearer tokens it minted, and an admin API
//! under `/__sim/` to add
//! applications (`POST /__sim/applications`), inject faults
//! (`POST /__sim/faults`, `DELETE /__sim/faults`) and read counters
//! (`GET /__sim/stats`). One thread per connection on a std `TcpListener`.

pub mod create;
pub mod http;
pub mod routes;
pub mod state;
pub mod token;

use std::io::{self, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Deserialize;

use http::{read_request, ReadError, Response};
use routes::Reply;
use state::World;
pub use state::{AppKind, Application, Fault, FaultKind, FaultTarget, Stats};

/// How long an idle keep-alive connection is kept open.
const IDLE: Duration = Duration::from_secs(30);

/// State shared by the connection threads.
pub struct Shared {
    world: Mutex<World>,
    /// The environment of paths without an environment prefix.
    pub default_environment: String,
    /// The `kid` in minted tokens' headers.
    pub kid: String,
    stopping: AtomicBool,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// Applications and faults to start with (the `--applications` file).
#[derive(Debug, Default, Deserialize)]
pub struct Seed {
    #[serde(default)]
    pub applications: Vec<Application>,
    #[serde(default)]
    pub faults: Vec<Fault>,
}

impl Seed {
    /// `{"applications":[…],"faults":[…]}` or a bare array of applications.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        match serde_json::from_str::<Vec<Application>>(text) {
            Ok(applications) => Ok(Seed {
                applications,
                faults: Vec::new(),
            }),
            Err(_) => serde_json::from_str(text),
        }
    }
}

/// A running simulator; stops when dropped.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Listen on `bind` (e.g. `127.0.0.1:0`) and serve in background threads.
    pub fn start(bind: &str, default_environment: &str, seed: Seed) -> io::Result<Self> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let mut world = World::default();
        for app in seed.applications {
            world.add_application(app);
        }
        world.faults = seed.faults;
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            default_environment: default_environment.to_string(),
            kid: token::new_kid(),
            stopping: AtomicBool::new(false),
        });
        let for_thread = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name("idsim-accept".into())
            .spawn(move || accept_loop(listener, for_thread))?;
        Ok(Simulator {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add_application(&self, app: Application) -> Application {
        self.shared.lock().add_application(app)
    }

    pub fn add_fault(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Delete an application as the dashboard would (no API call counted).
    pub fn remove_application(&self, environment: &str, client_id: &str) -> bool {
        let mut world = self.shared.lock();
        let before = world.applications.len();
        world
            .applications
            .retain(|a| !(a.environment == environment && a.client_id == client_id));
        world.applications.len() != before
    }

    /// Take token requests as coming from `address` (`None`: the peer).
    pub fn set_client_address(&self, address: Option<std::net::IpAddr>) {
        self.shared.lock().client_address = address;
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    pub fn applications(&self) -> Vec<Application> {
        self.shared.lock().applications.clone()
    }

    /// Block the calling thread while serving (the binary's main loop).
    pub fn wait(mut self) {
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(&shared);
        let _ = std::thread::Builder::new()
            .name("idsim-conn".into())
            .spawn(move || serve_connection(stream, &shared));
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let Ok(peer) = stream.peer_addr() else { return };
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while !shared.stopping() {
        let request = match read_request(&mut reader) {
            Ok(r) => r,
            Err(ReadError::Bad(status)) => {
                let _ = Response::empty(status).write_to(&mut writer, true);
                return;
            }
            Err(ReadError::Closed | ReadError::Io(_)) => return,
        };
        let close = request.wants_close();
        let mut reply = routes::handle(shared, &request, peer.ip());
        loop {
            match reply {
                Reply::Respond(response) => {
                    if response.write_to(&mut writer, close).is_err() || close {
                        return;
                    }
                    break;
                }
                Reply::Delay(wait, then) => {
                    pause(shared, wait);
                    reply = *then;
                }
                Reply::Reset => {
                    // SO_LINGER 0: close() sends RST instead of FIN.
                    let _ = socket2::SockRef::from(&writer).set_linger(Some(Duration::ZERO));
                    return;
                }
                Reply::Hang => {
                    pause(shared, Duration::MAX);
                    return;
                }
            }
        }
    }
}

/// Sleep up to `wait`, waking early when the simulator stops.
fn pause(shared: &Shared, wait: Duration) {
    let until = Instant::now().checked_add(wait);
    while !shared.stopping() && until.is_none_or(|u| Instant::now() < u) {
        std::thread::sleep(Duration::from_millis(20));
    }
}
