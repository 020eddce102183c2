//! A fault-injecting AWS endpoint on loopback, for what moto cannot do:
//! throttling, errors on demand, a server that accepts and never answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What the server does with the n-th request (from 0).
#[derive(Clone, Debug)]
pub enum Reply {
    /// An HTTP response.
    Respond { status: u16, content_type: &'static str, body: String },
    /// Read the request and never answer.
    Hang,
}

impl Reply {
    /// An AWS JSON-protocol error (SSM, KMS, DynamoDB).
    pub fn json_error(code: &str, message: &str) -> Self {
        Reply::Respond {
            status: 400,
            content_type: "application/x-amz-json-1.1",
            body: format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
        }
    }

    /// An AWS query-protocol error (STS).
    pub fn xml_error(code: &str, message: &str) -> Self {
        Reply::Respond {
            status: 400,
            content_type: "text/xml",
            body: format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
                 <RequestId>fault</RequestId></ErrorResponse>"
            ),
        }
    }

    /// A successful SSM `GetParameter` answer.
    pub fn ssm_parameter(name: &str, value: &str) -> Self {
        Reply::Respond {
            status: 200,
            content_type: "application/x-amz-json-1.1",
            body: format!(r#"{{"Parameter":{{"Name":"{name}","Type":"SecureString","Value":"{value}","Version":1}}}}"#),
        }
    }
}

/// The fault server. Stops serving when dropped.
pub struct FaultServer {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    served: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FaultServer {
    /// Serve each request with `script(n)`.
    pub fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let script = Arc::new(script);
        let (served2, stop2) = (served.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (served, stop, script) = (served2.clone(), stop2.clone(), script.clone());
                std::thread::spawn(move || serve(stream, &served, &stop, &*script));
            }
        });
        FaultServer { endpoint, served, stop }
    }

    /// How many requests have arrived.
    pub fn requests(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// SDK settings that talk to this server (us-east-1, test credentials),
    /// as [`crate::Moto::sdk_loader`] for moto.
    pub fn sdk_loader(&self) -> aws_config::ConfigLoader {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "faults"))
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
    }
}

fn serve(stream: TcpStream, served: &AtomicUsize, stop: &AtomicBool, script: &(dyn Fn(usize) -> Reply + Send + Sync)) {
    let mut reader = BufReader::new(stream.try_clone().expect("a stream"));
    let mut stream = stream;
    loop {
        // Headers, then the body (Content-Length), one request at a time.
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let n = served.fetch_add(1, Ordering::SeqCst);
        match script(n) {
            Reply::Hang => {
                let until = Instant::now() + Duration::from_secs(120);
                while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(50));
                }
                return;
            }
            Reply::Respond { status, content_type, body } => {
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: fault\r\n\r\n{body}",
                    body.len()
                );
                if stream.write_all(response.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}
