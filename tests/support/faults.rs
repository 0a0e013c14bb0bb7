//! A fault-injecting HTTP/1.1 proxy between the SDK and a moto server, both on 127.0.0.1.
//!
//! Real networks and real AWS lose answers and throttle; moto does neither. The proxy forwards every request to
//! moto and, on a schedule fixed by a seed, either
//! - loses the answer: the request reached moto and moto acted on it, but the client sees its connection close
//!   without a response (what a reset connection or a lost packet looks like), so the SDK retries a call that
//!   already happened; or
//! - throttles: answers as the service does when it is asked too fast, without forwarding: for the query
//!   protocol (CloudFormation, STS) HTTP 400 with `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>
//!   <Message>Rate exceeded</Message></Error><RequestId>..</RequestId></ErrorResponse>` (the awsQuery error shape
//!   the SDK parses in `rest_xml_wrapped_errors::parse_error_metadata`; `Throttling`/"Rate exceeded" is what
//!   CloudFormation answers, e.g. "An error occurred (Throttling) when calling the DescribeStacks operation:
//!   Rate exceeded").
//!
//! Deterministic under concurrency: whether a request is faulted depends only on the seed, the call (service,
//! action, stack or change set it names) and how many times that call was made before, not on how requests from
//! concurrent stack operations interleave. Bounded: at most [`MAX_FAULTS_IN_A_ROW`] faults in a row for one call
//! (so SDK retries always get through), [`MAX_CONNECTIONS`] connections at once, size limits on requests and
//! answers, timeouts on every socket; it listens on 127.0.0.1 only and stops when dropped.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A call is never faulted more often than this in a row; the SDK's standard retry mode makes 5 attempts.
pub const MAX_FAULTS_IN_A_ROW: u32 = 2;
pub const MAX_CONNECTIONS: usize = 32;
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// What to inject.
#[derive(Debug, Clone)]
pub struct Faults {
    pub seed: u64,
    /// Share of answers lost after moto acted on the request (0.0 to 1.0).
    pub lose_answers: f64,
    /// Share of requests answered with the service's throttling error instead of being forwarded.
    pub throttle: f64,
    /// Actions whose first answer is always lost (the first call of the action, whichever stack it is for),
    /// so that every idempotency path is exercised whatever the seed.
    pub lose_first_answer_of: Vec<&'static str>,
    /// Services (SigV4 signing names) that get faults; others pass through untouched.
    pub services: Vec<&'static str>,
    /// Every answer waits this long (a slow network), so that a test can act while a command runs.
    pub answer_delay: Duration,
    /// Buckets another account owns: S3 HeadBucket of one (path style, `HEAD /NAME`) is answered, without
    /// forwarding, as S3 answers it: `403 Forbidden`, no body (HEAD), the bucket's region in
    /// `x-amz-bucket-region` (S3 API Reference, HeadBucket: "If the bucket does not exist or you do not have
    /// permission to access it, the HEAD request returns a generic 400 Bad Request, 403 Forbidden or 404 Not
    /// Found code"). moto answers 200 for another account's bucket (MOTO_NOTES section 9).
    pub foreign_buckets: Vec<String>,
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            seed: 0,
            lose_answers: 0.0,
            throttle: 0.0,
            lose_first_answer_of: Vec::new(),
            services: vec!["cloudformation", "sts"],
            answer_delay: Duration::ZERO,
            foreign_buckets: Vec::new(),
        }
    }

    pub fn losing_answers(seed: u64, share: f64) -> Faults {
        Faults {
            seed,
            lose_answers: share,
            ..Faults::none()
        }
    }

    pub fn throttling(seed: u64, share: f64) -> Faults {
        Faults {
            seed,
            throttle: share,
            ..Faults::none()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    LostAnswer,
    Throttled,
}

/// One request the proxy saw: `service Action target` and what it did to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub call: String,
    pub action: String,
    pub fault: Option<Fault>,
}

pub struct FaultProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

struct State {
    upstream: SocketAddr,
    faults: Faults,
    schedule: Mutex<Schedule>,
    seen: Mutex<Vec<Seen>>,
    active: AtomicUsize,
    clients: Mutex<Vec<(TcpStream, JoinHandle<()>)>>,
}

#[derive(Default)]
struct Schedule {
    /// Per call: how many times it was made, and how many of the latest were faulted in a row.
    calls: HashMap<String, (u64, u32)>,
    /// Actions seen so far (for `lose_first_answer_of`).
    actions: HashMap<String, u64>,
}

impl FaultProxy {
    /// Starts the proxy in front of the server on `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16, faults: Faults) -> FaultProxy {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the fault proxy on 127.0.0.1");
        let port = listener.local_addr().expect("proxy address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(State {
            upstream: SocketAddr::from((Ipv4Addr::LOCALHOST, upstream_port)),
            faults,
            schedule: Mutex::new(Schedule::default()),
            seen: Mutex::new(Vec::new()),
            active: AtomicUsize::new(0),
            clients: Mutex::new(Vec::new()),
        });
        let accept = {
            let stop = Arc::clone(&stop);
            let state = Arc::clone(&state);
            std::thread::spawn(move || accept_loop(listener, &stop, &state))
        };
        FaultProxy {
            port,
            stop,
            state,
            accept: Some(accept),
        }
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request so far, in the order they arrived.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// How many requests of the faulted services got each fault (requests to other services, such as
    /// plan's read-only account checks through SSM, EC2 and S3, are never faulted and not counted).
    pub fn counts(&self) -> BTreeMap<Option<Fault>, usize> {
        let mut counts = BTreeMap::new();
        for seen in self.seen() {
            let service = seen.call.split(' ').next().unwrap_or_default();
            if self.state.faults.services.contains(&service) {
                *counts.entry(seen.fault).or_default() += 1;
            }
        }
        counts
    }

    /// Actions that had at least one answer lost.
    pub fn lost_answers_of(&self, action: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.action == action && s.fault == Some(Fault::LostAnswer))
            .count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let clients = std::mem::take(&mut *self.state.clients.lock().unwrap());
        for (stream, handle) in clients {
            let _ = stream.shutdown(Shutdown::Both);
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: TcpListener, stop: &AtomicBool, state: &Arc<State>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        while state.active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            std::thread::sleep(Duration::from_millis(5));
            if stop.load(Ordering::SeqCst) {
                return;
            }
        }
        let Ok(tracked) = stream.try_clone() else {
            continue;
        };
        state.active.fetch_add(1, Ordering::SeqCst);
        let handle = {
            let state = Arc::clone(state);
            std::thread::spawn(move || {
                let _ = serve(stream, &state);
                state.active.fetch_sub(1, Ordering::SeqCst);
            })
        };
        let mut clients = state.clients.lock().unwrap();
        clients.retain(|(_, handle)| !handle.is_finished());
        clients.push((tracked, handle));
    }
}

/// Serves one client connection: requests one after the other (HTTP/1.1 keep-alive).
fn serve(client: TcpStream, state: &State) -> io::Result<()> {
    client.set_read_timeout(Some(IDLE_TIMEOUT))?;
    client.set_write_timeout(Some(IDLE_TIMEOUT))?;
    let mut writer = client.try_clone()?;
    let mut reader = BufReader::new(client);
    while let Some(request) = read_request(&mut reader, &mut writer)? {
        if request.method == "HEAD"
            && state
                .faults
                .foreign_buckets
                .iter()
                .any(|bucket| request.target.trim_end_matches('/') == format!("/{bucket}"))
        {
            writer.write_all(
                b"HTTP/1.1 403 Forbidden\r\nx-amz-bucket-region: eu-west-1\r\nx-amz-request-id: 0000000000000000\r\nContent-Type: application/xml\r\nContent-Length: 0\r\n\r\n",
            )?;
            continue;
        }
        let call = Call::of(&request);
        let fault = call
            .as_ref()
            .filter(|c| state.faults.services.contains(&c.service.as_str()))
            .and_then(|c| state.decide(c));
        if let Some(call) = &call {
            state.seen.lock().unwrap().push(Seen {
                call: call.key(),
                action: call.action.clone(),
                fault,
            });
        }
        match fault {
            Some(Fault::Throttled) => {
                let service = call.as_ref().map(|c| c.service.as_str()).unwrap_or("");
                writer.write_all(&throttling_answer(service))?;
            }
            Some(Fault::LostAnswer) => {
                // moto acts on the request; its answer never arrives.
                let _ = forward(&request, state.upstream)?;
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            None => {
                let mut answer = forward(&request, state.upstream)?;
                let faulted = call
                    .as_ref()
                    .is_some_and(|c| state.faults.services.contains(&c.service.as_str()));
                if !faulted {
                    not_implemented_as_501(&mut answer);
                }
                std::thread::sleep(state.faults.answer_delay);
                writer.write_all(&answer.to_bytes(request.wants_close()))?;
                if request.wants_close() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

impl State {
    fn decide(&self, call: &Call) -> Option<Fault> {
        let key = call.key();
        let mut schedule = self.schedule.lock().unwrap();
        let first_of_action = {
            let seen = schedule.actions.entry(call.action.clone()).or_default();
            *seen += 1;
            *seen == 1
        };
        let (made, in_a_row) = schedule.calls.entry(key.clone()).or_default();
        let nth = *made;
        *made += 1;
        let fault = if *in_a_row >= MAX_FAULTS_IN_A_ROW {
            None
        } else if first_of_action
            && self
                .faults
                .lose_first_answer_of
                .contains(&call.action.as_str())
        {
            Some(Fault::LostAnswer)
        } else {
            let draw = unit(self.faults.seed, &key, nth);
            if draw < self.faults.throttle {
                Some(Fault::Throttled)
            } else if draw < self.faults.throttle + self.faults.lose_answers {
                Some(Fault::LostAnswer)
            } else {
                None
            }
        };
        *in_a_row = if fault.is_some() { *in_a_row + 1 } else { 0 };
        fault
    }
}

/// A uniform draw in [0, 1) from the seed, the call and its ordinal (SplitMix64 over an FNV-1a hash).
fn unit(seed: u64, key: &str, nth: u64) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = seed ^ hash ^ nth.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The call a request makes, as far as the schedule cares.
struct Call {
    service: String,
    action: String,
    /// The stack (or change set) it names, so that concurrent stacks' calls are told apart.
    target: String,
}

impl Call {
    fn of(request: &Request) -> Option<Call> {
        let authorization = request.header("authorization")?;
        // `AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, ...`
        let scope = authorization.split("Credential=").nth(1)?;
        let service = scope.split('/').nth(3)?.to_owned();
        let form = form_fields(&request.body);
        let action = form.get("Action").cloned().unwrap_or_default();
        let target = form
            .get("StackName")
            .or_else(|| form.get("ChangeSetName"))
            .cloned()
            .unwrap_or_default();
        Some(Call {
            service,
            action,
            target,
        })
    }

    fn key(&self) -> String {
        format!("{} {} {}", self.service, self.action, self.target)
    }
}

/// What a throttled query-protocol service answers.
fn throttling_answer(service: &str) -> Vec<u8> {
    let namespace = match service {
        "sts" => "https://sts.amazonaws.com/doc/2011-06-15/",
        _ => "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    };
    let body = format!(
        "<ErrorResponse xmlns=\"{namespace}\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>Throttling</Code>\n    <Message>Rate exceeded</Message>\n  </Error>\n  <RequestId>00000000-0000-4000-8000-000000000000</RequestId>\n</ErrorResponse>\n"
    );
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/xml\r\nx-amzn-RequestId: 00000000-0000-4000-8000-000000000000\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Hop-by-hop and framing headers: the proxy frames each side itself.
fn is_framing(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "content-length",
        "transfer-encoding",
        "expect",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// A message's start line and headers.
type Head = (String, Vec<(String, String)>);

/// Reads a request head (start line and headers) or a response head; `None` at a clean end of stream.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut start = String::new();
    let mut total = 0;
    loop {
        start.clear();
        let read = reader.read_line(&mut start)?;
        if read == 0 {
            return Ok(None);
        }
        total += read;
        // Tolerate blank lines between messages (RFC 9112 section 2.2).
        if !start.trim().is_empty() {
            break;
        }
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line)?;
        total += read;
        if read == 0 || total > MAX_HEAD_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad HTTP head"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    Ok(Some((start.trim_end().to_owned(), headers)))
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> io::Result<Option<Request>> {
    let Some((start, headers)) = read_head(reader)? else {
        return Ok(None);
    };
    let mut parts = start.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = read_body(reader, &headers, true)?;
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

/// A message body framed by Content-Length or chunked encoding; without either, a request has none and a
/// response runs to the end of the stream.
fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
    is_request: bool,
) -> io::Result<Vec<u8>> {
    let too_big = || io::Error::new(io::ErrorKind::InvalidData, "message body too large");
    if header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        let mut body = Vec::new();
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size_text = size_line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if body.len() + size > MAX_BODY_BYTES {
                return Err(too_big());
            }
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    }
    if let Some(length) = header(headers, "content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))?;
        if length > MAX_BODY_BYTES {
            return Err(too_big());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    if is_request {
        return Ok(Vec::new());
    }
    let mut body = Vec::new();
    reader
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_big());
    }
    Ok(body)
}

struct Answer {
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn to_bytes(&self, close: bool) -> Vec<u8> {
        let mut bytes = format!("{}\r\n", self.status_line).into_bytes();
        for (name, value) in &self.headers {
            if !is_framing(name) {
                bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
        }
        let connection = if close { "close" } else { "keep-alive" };
        bytes.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: {connection}\r\n\r\n",
                self.body.len()
            )
            .as_bytes(),
        );
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// moto answers an action it does not implement (RDS DescribeDBEngineVersions, MOTO_NOTES section 9) with an HTML
/// `500 Internal Server Error`, which the SDK's standard retry mode takes for a transient server error and retries
/// with exponential backoff: seconds of sleep per call, in every plan of these retry-enabled runs, for a
/// condition that never passes. An alignment step for the services this proxy does not fault: such an answer is
/// relayed as what it means, `501 Not Implemented` (RFC 9110, 15.6.2: the server "does not support the
/// functionality required to fulfill the request"), which the SDK does not retry; body and headers unchanged, so
/// strata still sees an HTML answer from an endpoint without the API and says the check did not run.
fn not_implemented_as_501(answer: &mut Answer) {
    let html = header(&answer.headers, "content-type").is_some_and(|t| t.contains("text/html"));
    if html && answer.status_line.split_whitespace().nth(1) == Some("500") {
        answer.status_line = "HTTP/1.1 501 Not Implemented".to_owned();
    }
}

/// Sends the request to moto on a connection of its own and reads the whole answer.
fn forward(request: &Request, upstream: SocketAddr) -> io::Result<Answer> {
    let mut stream = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    stream.set_write_timeout(Some(UPSTREAM_TIMEOUT))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        if !is_framing(name) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(&request.body)?;
    let mut reader = BufReader::new(stream);
    let (status_line, headers) = read_head(&mut reader)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no answer from upstream"))?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if request.method.eq_ignore_ascii_case("HEAD") || matches!(status, 204 | 304) {
        Vec::new()
    } else {
        read_body(&mut reader, &headers, false)?
    };
    Ok(Answer {
        status_line,
        headers,
        body,
    })
}

/// `application/x-www-form-urlencoded` fields (the query protocol's request body).
fn form_fields(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (percent_decode(key), percent_decode(value)))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
