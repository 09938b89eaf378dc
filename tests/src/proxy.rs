//! An HTTP proxy on loopback for the tests of `HTTPS_PROXY`/`HTTP_PROXY`: `CONNECT host:port`
//! becomes a tunnel to 127.0.0.1:port, a plain request in absolute form
//! (`GET http://host:port/…`) goes to 127.0.0.1:port in origin form. Every target is noted, so a
//! host that resolves nowhere (`vault.test`, `values.test`) proves the proxy was used.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The running proxy; it lives as long as the test process.
pub struct Proxy {
    /// The loopback port it listens on.
    pub port: u16,
    targets: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    /// Starts the proxy on a free loopback port.
    pub fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let targets: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = targets.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let _ = relay(client, &seen);
                });
            }
        });
        Proxy { port, targets }
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY`/`HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `host:port` of every request so far.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

/// Bytes up to and including the blank line that ends an HTTP request head.
pub fn read_head(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if r.read(&mut b)? == 0 || head.len() > 64 << 10 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(b[0]);
    }
    Ok(head)
}

fn relay(mut client: TcpStream, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let head = read_head(&mut client)?;
    let line = String::from_utf8_lossy(&head).into_owned();
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let authority = if method == "CONNECT" {
        target.to_string()
    } else if let Some(rest) = target.strip_prefix("http://") {
        rest.split('/').next().unwrap_or("").to_string()
    } else {
        return client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    };
    seen.lock().unwrap().push(authority.clone());
    let port: u16 = authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(if method == "CONNECT" { 443 } else { 80 });
    let mut up = TcpStream::connect(("127.0.0.1", port))?;
    if method == "CONNECT" {
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    } else {
        // to the origin in origin form, as proxies send it
        let path = target
            .trim_start_matches("http://")
            .find('/')
            .map_or("/", |i| &target["http://".len() + i..]);
        up.write_all(line.replacen(target, path, 1).as_bytes())?;
    }
    let (mut c2, mut u2) = (client.try_clone()?, up.try_clone()?);
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut up, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = upstream.join();
    Ok(())
}
