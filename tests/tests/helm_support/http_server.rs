//! A loopback HTTP/1.1 server for the remote values tests (std only, one thread per connection,
//! `Connection: close`). Besides the files given, it serves:
//! `/loop` (redirects to itself), `/redirect/NAME` (302 to `/NAME`), `/big` (announces 64 MiB + 1),
//! `/auth/NAME` (NAME, only with basic auth `user:AUTH_PASSWORD`), anything else 404.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The password `/auth/…` wants (never to appear in any output).
pub const AUTH_PASSWORD: &str = "pw-Zq81xK";

/// The running server; it lives as long as the test process.
pub struct Server {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (f, h) = (files.clone(), hits.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (f, h) = (f.clone(), h.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &f, &h);
                });
            }
        });
        Server { base, files, hits }
    }

    /// Serves `bytes` at `/name`.
    pub fn put(&self, name: &str, bytes: impl Into<Vec<u8>>) {
        self.files
            .lock()
            .unwrap()
            .insert(format!("/{name}"), bytes.into());
    }

    /// Serves the contents of `dir/FILE` at `/NAME` for each `(NAME, FILE)` of `files`.
    pub fn put_files(&self, dir: &std::path::Path, files: &[(&str, &str)]) {
        for (name, file) in files {
            let bytes = std::fs::read(dir.join(file))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()));
            self.put(name, bytes);
        }
    }

    /// `http://127.0.0.1:PORT/name`
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// How often `/name` was requested.
    pub fn hits(&self, name: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .get(&format!("/{name}"))
            .copied()
            .unwrap_or(0)
    }
}

fn serve(
    conn: TcpStream,
    files: &Mutex<HashMap<String, Vec<u8>>>,
    hits: &Mutex<HashMap<String, usize>>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                auth = Some(v.trim().to_string());
            }
        }
    }
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let mut out = conn;
    let reply = |out: &mut TcpStream, status: &str, extra: &str, body: &[u8]| {
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        )?;
        out.write_all(body)?;
        out.flush()
    };
    if path == "/loop" {
        return reply(&mut out, "302 Found", "Location: /loop\r\n", b"");
    }
    if let Some(to) = path.strip_prefix("/redirect/") {
        return reply(&mut out, "302 Found", &format!("Location: /{to}\r\n"), b"");
    }
    if path == "/big" {
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            (64 << 20) + 1
        )?;
        return out.flush();
    }
    let (path, authorized) = match path.strip_prefix("/auth") {
        Some(rest) => {
            use base64::Engine;
            let want = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("user:{AUTH_PASSWORD}"))
            );
            (rest.to_string(), auth.as_deref() == Some(want.as_str()))
        }
        None => (path, true),
    };
    if !authorized {
        return reply(&mut out, "401 Unauthorized", "", b"no");
    }
    let body = files.lock().unwrap().get(&path).cloned();
    match body {
        Some(b) => reply(&mut out, "200 OK", "", &b),
        None => reply(&mut out, "404 Not Found", "", b"not found"),
    }
}
