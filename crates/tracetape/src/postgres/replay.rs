//! Replay mode: the proxy is the server. No connection to a database is
//! made; each operation is answered from the recording of the replayed
//! request that runs it (the context its connection's last marker
//! carried), or from the background recordings.
//!
//! The start-up succeeds at once (encryption refused, authentication
//! `Ok`, the parameters drivers read, a key for cancel requests). A
//! simple query or an execution is a live call to the request's
//! [`ReplayScope`], built as record mode builds its exchange: the
//! operation as its method, `postgresql://host:port/db` as its URL, the
//! SQL (normalised) and parameters as its JSON body. Matching is replay's:
//! the most alike unused recorded operation answers, a changed query or
//! parameter is a call deviation at its JSON path (`$.sql`,
//! `$.parameters[1]`), an operation nothing matches gets an error naming
//! the closest recorded ones, and recorded operations never run are
//! unused; the replay log reports each as it reports HTTP calls. The
//! recorded rows are written back in the formats the driver bound, the
//! recorded error with all its fields, and the transaction status follows
//! the recorded command tags.
//!
//! A statement described before it runs is described from a recorded
//! operation with the same SQL (its parameter types and columns), else
//! from one of the same kind and parameter count (the one a changed
//! statement is answered from); a parameter nothing types is `text`,
//! never `0`. A catalog lookup is answered by the background recordings,
//! where record mode keeps it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{BufMut, Bytes, BytesMut};
use opentelemetry::Context;
use pgwire::messages::copy::{CopyData, CopyDone, CopyOutResponse};
use pgwire::messages::data::{
    DataRow, FieldDescription, NoData, ParameterDescription, RowDescription,
};
use pgwire::messages::extendedquery::{BindComplete, CloseComplete, ParseComplete};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ErrorResponse, ReadyForQuery, TransactionStatus,
};
use pgwire::messages::startup::{Authentication, BackendKeyData, ParameterStatus, SecretKey};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::capture::{self, Parameter};
use super::conversation::{DbError, Operation};
use super::frames::Frames;
use super::marker::{self, Seen};
use super::record::RequestJson;
use super::span::Telemetry;
use super::sql::Statement;
use super::values;
use super::wire;
use crate::record::{ExchangeKind, ResponseRecord};
use crate::replay::matching::LiveCall;
use crate::replay::{ReplayScope, Replayer};

/// The parameters a server reports at start-up that drivers read.
const PARAMETERS: [(&str, &str); 8] = [
    ("server_version", "16.0"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("DateStyle", "ISO, MDY"),
    ("IntervalStyle", "postgres"),
    ("TimeZone", "UTC"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
];

/// The parameter type replay says when nothing recorded says one:
/// `text`.
const UNKNOWN_TYPE: u32 = 25;

/// SQLSTATE of an operation replay cannot answer (`XX000`, internal
/// error: the service's own error handling sees a database error).
const NOT_ANSWERED: &str = "XX000";

/// Whether replay mode is on (with `replayer`, or process-wide), or was
/// asked for: then no operation may reach a database.
pub(crate) fn replaying(replayer: Option<&Replayer>) -> bool {
    ReplayScope::current(&Context::new(), replayer).is_some()
}

/// A prepared statement: its SQL and the parameter types the client gave.
#[derive(Debug)]
struct Prepared {
    statement: Arc<Statement>,
    types: Vec<u32>,
    /// What recorded operations say of it ([`Server::described`]), looked
    /// up at its first Describe or Bind: every Bind of it needs its types,
    /// and they must be the ones its Describe gave the driver.
    recorded: Option<Described>,
}

/// A statement's parameter types and columns, as recorded.
type Described = (Vec<u32>, Option<Vec<Value>>);

/// A portal: a statement with its parameters and the result formats.
#[derive(Debug)]
struct Portal {
    statement: Arc<Statement>,
    parameters: Vec<Parameter>,
    result_formats: Vec<i16>,
}

/// One connection answered from recordings.
pub(crate) struct Server {
    telemetry: Arc<Telemetry>,
    /// The recordings the proxy was given in code, else the process-wide
    /// ones.
    replayer: Option<Replayer>,
    database: Option<Arc<str>>,
    context: Context,
    statements: HashMap<String, Prepared>,
    portals: HashMap<String, Portal>,
    /// The transaction status ReadyForQuery says.
    status: TransactionStatus,
    /// After an error in an extended-protocol batch, messages up to its
    /// Sync are skipped, as the server skips them.
    skipping: bool,
    out: BytesMut,
}

impl Server {
    pub(crate) fn new(
        telemetry: Arc<Telemetry>,
        replayer: Option<Replayer>,
        database: Option<Arc<str>>,
    ) -> Self {
        Self {
            telemetry,
            replayer,
            database,
            context: Context::new(),
            statements: HashMap::new(),
            portals: HashMap::new(),
            status: TransactionStatus::Idle,
            skipping: false,
            out: BytesMut::new(),
        }
    }

    /// Serves the connection after its start-up message (with the user
    /// it named as `application_name` is not needed) until it ends.
    pub(crate) async fn serve<R, W>(mut self, mut read: R, mut write: W, mut frames: Frames)
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        self.startup();
        if write.write_all(&self.out).await.is_err() {
            return;
        }
        self.out.clear();
        loop {
            loop {
                let frame = match frames.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(_) => return,
                };
                let mut buffer = BytesMut::from(frame.bytes.as_ref());
                let message = match PgWireFrontendMessage::decode(&mut buffer, &wire::typed()) {
                    Ok(Some(message)) => message,
                    Ok(None) | Err(_) => return,
                };
                if matches!(message, PgWireFrontendMessage::Terminate(_)) {
                    return;
                }
                self.message(message).await;
            }
            if !self.out.is_empty() {
                if write.write_all(&self.out).await.is_err() {
                    return;
                }
                self.out.clear();
            }
            match read.read_buf(frames.buffer()).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// Authentication `Ok`, the parameters, a key, ready.
    fn startup(&mut self) {
        static PID: AtomicI32 = AtomicI32::new(1);
        self.send(PgWireBackendMessage::Authentication(Authentication::Ok));
        for (name, value) in PARAMETERS {
            let parameter = ParameterStatus::new(name.to_owned(), value.to_owned());
            self.send(PgWireBackendMessage::ParameterStatus(parameter));
        }
        let pid = PID.fetch_add(1, Ordering::Relaxed);
        let key = BackendKeyData::new(pid, SecretKey::I32(pid));
        self.send(PgWireBackendMessage::BackendKeyData(key));
        self.ready();
    }

    async fn message(&mut self, message: PgWireFrontendMessage) {
        if self.skipping && !matches!(message, PgWireFrontendMessage::Sync(_)) {
            return;
        }
        match message {
            PgWireFrontendMessage::Query(query) => self.query(&query.query).await,
            PgWireFrontendMessage::Parse(parse) => {
                let prepared = Prepared {
                    statement: Statement::new(&parse.query),
                    types: parse.type_oids,
                    recorded: None,
                };
                self.statements
                    .insert(parse.name.unwrap_or_default(), prepared);
                self.send(PgWireBackendMessage::ParseComplete(ParseComplete::new()));
            }
            PgWireFrontendMessage::Bind(bind) => {
                let statement = bind.statement_name.unwrap_or_default();
                let Some((prepared, _)) = self.prepared(&statement) else {
                    let message = format!("prepared statement \"{statement}\" does not exist");
                    return self.fail("26000", &message);
                };
                let types = parameter_types(prepared);
                let parameters = (bind.parameters.iter().enumerate())
                    .map(|(i, value)| Parameter {
                        type_oid: types.get(i).copied().unwrap_or(0),
                        format: capture::format_at(&bind.parameter_format_codes, i),
                        value: value.clone(),
                    })
                    .collect();
                let portal = Portal {
                    statement: prepared.statement.clone(),
                    parameters,
                    result_formats: bind.result_column_format_codes,
                };
                self.portals
                    .insert(bind.portal_name.unwrap_or_default(), portal);
                self.send(PgWireBackendMessage::BindComplete(BindComplete::new()));
            }
            PgWireFrontendMessage::Describe(describe) => {
                let name = describe.name.unwrap_or_default();
                if describe.target_type == b'S' {
                    let Some((prepared, columns)) = self.prepared(&name) else {
                        let message = format!("prepared statement \"{name}\" does not exist");
                        return self.fail("26000", &message);
                    };
                    let types = parameter_types(prepared);
                    self.send(PgWireBackendMessage::ParameterDescription(
                        ParameterDescription::new(types),
                    ));
                    self.columns(columns, &[]);
                } else {
                    let Some(portal) = self.portals.get(&name) else {
                        let message = format!("portal \"{name}\" does not exist");
                        return self.fail("34000", &message);
                    };
                    let formats = portal.result_formats.clone();
                    let columns = self.described(&portal.statement).and_then(|d| d.1);
                    self.columns(columns, &formats);
                }
            }
            PgWireFrontendMessage::Execute(execute) => {
                let name = execute.name.unwrap_or_default();
                let Some(portal) = self.portals.get(&name) else {
                    let message = format!("portal \"{name}\" does not exist");
                    return self.fail("34000", &message);
                };
                let statement = portal.statement.clone();
                let parameters = portal.parameters.clone();
                let formats = portal.result_formats.clone();
                self.operation(statement, &parameters, Some(&formats)).await;
            }
            PgWireFrontendMessage::Close(close) => {
                let name = close.name.unwrap_or_default();
                if close.target_type == b'S' {
                    self.statements.remove(&name);
                } else {
                    self.portals.remove(&name);
                }
                self.send(PgWireBackendMessage::CloseComplete(CloseComplete::new()));
            }
            PgWireFrontendMessage::Sync(_) => {
                self.skipping = false;
                self.ready();
            }
            // Flush asks for what is written so far, which is sent after
            // every read anyway; copy data has no COPY to go to.
            _ => {}
        }
    }

    /// A simple query: a marker, or an operation answered in full.
    async fn query(&mut self, text: &str) {
        if let Seen::Marker { context, .. } = marker::take(text) {
            self.context = super::idle::asleep(&context);
            self.send(PgWireBackendMessage::EmptyQueryResponse(
                EmptyQueryResponse::new(),
            ));
        } else if text.trim().is_empty() {
            self.send(PgWireBackendMessage::EmptyQueryResponse(
                EmptyQueryResponse::new(),
            ));
        } else {
            self.operation(Statement::new(text), &[], None).await;
        }
        // A simple query's error does not skip what follows.
        self.skipping = false;
        self.ready();
    }

    /// One operation answered from the recording; `formats` are the
    /// result formats bound (`None` for a simple query: text, with each
    /// result's RowDescription).
    async fn operation(
        &mut self,
        statement: Arc<Statement>,
        parameters: &[Parameter],
        formats: Option<&[i16]>,
    ) {
        let started = SystemTime::now();
        let started_at = Instant::now();
        let answer = self.answer(&statement, parameters).await;
        let error = match answer {
            Ok(response) => self.results(&response, formats),
            Err(message) => {
                self.fail(NOT_ANSWERED, &message);
                Some(DbError {
                    code: NOT_ANSWERED.to_owned(),
                    message,
                })
            }
        };
        let operation = Operation {
            statement,
            context: self.context.clone(),
            started,
            started_at,
            ended_at: Instant::now(),
            error,
            recording: None,
        };
        self.telemetry.finished(&operation, self.database.as_ref());
    }

    /// The recorded answer to the operation, or why there is none.
    async fn answer(
        &self,
        statement: &Statement,
        parameters: &[Parameter],
    ) -> Result<Value, String> {
        // A catalog lookup is the background's, as record mode keeps it:
        // the driver makes it in whichever request meets a type first on
        // its connection.
        let context = if statement.catalog {
            Context::new()
        } else {
            self.context.clone()
        };
        let Some(scope) = ReplayScope::current(&context, self.replayer.as_ref()) else {
            return Err("tracetape replay: replay mode has ended".to_owned());
        };
        let key = scope.redaction_key();
        let request = RequestJson {
            statement,
            parameters,
            key: &key,
        };
        // Into memory, of keys that are strings: it cannot fail.
        let body = serde_json::to_vec(&request).unwrap_or_default();
        let call = LiveCall::new(
            statement.method(),
            self.telemetry.url(self.database.as_ref()),
        )
        .with_body(Bytes::from(body));
        let response: ResponseRecord = scope
            .answer(&call)
            .await
            .map_err(|error| format!("tracetape replay: {error}"))?;
        serde_json::from_slice(&response.body.bytes).map_err(|error| {
            format!("tracetape replay: the recorded answer is not the JSON recorded: {error}")
        })
    }

    /// The recorded results and error written back; the error, if any.
    fn results(&mut self, response: &Value, formats: Option<&[i16]>) -> Option<DbError> {
        let results = response["results"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for result in results {
            let columns = result.get("columns").and_then(Value::as_array);
            if let (None, Some(columns)) = (formats, columns) {
                // A simple query's rows are described first, in text.
                let described = columns.iter().map(|c| field(c, 0)).collect();
                self.send(PgWireBackendMessage::RowDescription(RowDescription::new(
                    described,
                )));
            }
            if let Some(copy) = result.get("copy") {
                self.copy_out(copy);
            }
            for row in result["rows"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if let Err(message) = self.row(row, columns, formats) {
                    self.fail(NOT_ANSWERED, &message);
                    return Some(DbError {
                        code: NOT_ANSWERED.to_owned(),
                        message,
                    });
                }
            }
            match result["tag"].as_str() {
                Some(tag) => {
                    self.follow(tag);
                    let complete = CommandComplete::new(tag.to_owned());
                    self.send(PgWireBackendMessage::CommandComplete(complete));
                }
                None if formats.is_none() => {
                    self.send(PgWireBackendMessage::EmptyQueryResponse(
                        EmptyQueryResponse::new(),
                    ));
                }
                None => {}
            }
        }
        let error = response.get("error").and_then(Value::as_object)?;
        let fields: Vec<(u8, String)> = error
            .iter()
            .filter_map(|(name, value)| Some((field_code(name)?, value.as_str()?.to_owned())))
            .collect();
        let code = error
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.send(PgWireBackendMessage::ErrorResponse(ErrorResponse::new(
            fields,
        )));
        self.errored();
        Some(DbError { code, message })
    }

    /// One recorded row as a DataRow in the formats bound.
    fn row(
        &mut self,
        row: &Value,
        columns: Option<&Vec<Value>>,
        formats: Option<&[i16]>,
    ) -> Result<(), String> {
        let cells = row.as_array().map(Vec::as_slice).unwrap_or_default();
        let mut data = BytesMut::new();
        for (i, cell) in cells.iter().enumerate() {
            let column = columns.and_then(|c| c.get(i));
            let type_oid = column.and_then(|c| c["type"].as_u64()).unwrap_or(0) as u32;
            let recorded = column.and_then(|c| c["format"].as_i64()).unwrap_or(0) as i16;
            let wanted = formats.map_or(0, |formats| capture::format_at(formats, i));
            if recorded != wanted {
                return Err(format!(
                    "tracetape replay: column {i} was recorded in format {recorded}, and is asked \
                     for in format {wanted}"
                ));
            }
            match values::encode(type_oid, wanted, cell) {
                Some(Some(bytes)) => {
                    data.put_i32(bytes.len() as i32);
                    data.put_slice(&bytes);
                }
                Some(None) => data.put_i32(-1),
                None => {
                    return Err(format!(
                        "tracetape replay: the recorded value {cell} cannot be sent as type {type_oid}"
                    ));
                }
            }
        }
        let count = i16::try_from(cells.len()).unwrap_or(i16::MAX);
        self.send(PgWireBackendMessage::DataRow(DataRow::new(data, count)));
        Ok(())
    }

    /// The prepared statement `name`, with what recordings say of it
    /// looked up the first time, and its recorded columns.
    fn prepared(&mut self, name: &str) -> Option<(&Prepared, Option<Vec<Value>>)> {
        let unknown = self.statements.get(name)?.recorded.is_none();
        if unknown {
            let statement = self.statements.get(name)?.statement.clone();
            let recorded = self.described(&statement).unwrap_or_default();
            if let Some(prepared) = self.statements.get_mut(name) {
                prepared.recorded = Some(recorded);
            }
        }
        let prepared = self.statements.get(name)?;
        let columns = prepared.recorded.as_ref().and_then(|d| d.1.clone());
        Some((prepared, columns))
    }

    /// The parameter types and columns of a recorded operation with the
    /// same SQL: the replayed request's, else the background recordings'.
    /// Without one, those of the first recorded operation of the same
    /// kind (`SELECT`) and parameter count, which replay would answer the
    /// changed statement from (as a call deviation at `$.sql`).
    fn described(&self, statement: &Statement) -> Option<Described> {
        let sql = statement.normalized();
        let method = statement.method();
        let parameters = statement.parameters;
        let mut similar = None;
        let scope = ReplayScope::current(&self.context, self.replayer.as_ref());
        let replayer = self.replayer.clone().or_else(crate::replay::global);
        let background = replayer.map(|replayer| replayer.background());
        let sessions = scope
            .as_ref()
            .and_then(ReplayScope::session)
            .into_iter()
            .chain(background.as_ref());
        for session in sessions {
            for index in 0..session.len() {
                let Some(exchange) = session.recorded(index) else {
                    continue;
                };
                if exchange.kind != ExchangeKind::Database {
                    continue;
                }
                let Ok(request) = serde_json::from_slice::<Value>(&exchange.request.body.bytes)
                else {
                    continue;
                };
                let types: Vec<u32> = (request["types"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default())
                .iter()
                .map(|t| t.as_u64().unwrap_or(0) as u32)
                .collect();
                let same = request["sql"].as_str() == Some(sql);
                let alike = exchange.request.method == method && types.len() == parameters;
                if !same && (!alike || similar.is_some()) {
                    continue;
                }
                let response = exchange
                    .response
                    .as_ref()
                    .and_then(|r| serde_json::from_slice::<Value>(&r.body.bytes).ok());
                let columns = response.and_then(|r| {
                    r["results"][0]
                        .get("columns")
                        .and_then(Value::as_array)
                        .cloned()
                });
                if same {
                    return Some((types, columns));
                }
                similar = Some((types, columns));
            }
        }
        similar
    }

    /// RowDescription (in `formats`) or NoData.
    fn columns(&mut self, columns: Option<Vec<Value>>, formats: &[i16]) {
        match columns {
            Some(columns) => {
                let fields = (columns.iter().enumerate())
                    .map(|(i, c)| field(c, capture::format_at(formats, i)))
                    .collect();
                self.send(PgWireBackendMessage::RowDescription(RowDescription::new(
                    fields,
                )));
            }
            None => self.send(PgWireBackendMessage::NoData(NoData::new())),
        }
    }

    /// A recorded `COPY … TO STDOUT`: its start, its data as recorded, its
    /// end (the command tag follows).
    fn copy_out(&mut self, copy: &Value) {
        let formats: Vec<i16> = (copy["columns"].as_array().map(Vec::as_slice))
            .unwrap_or_default()
            .iter()
            .map(|format| {
                format
                    .as_i64()
                    .and_then(|f| i16::try_from(f).ok())
                    .unwrap_or(0)
            })
            .collect();
        let format = copy["format"]
            .as_i64()
            .and_then(|f| i8::try_from(f).ok())
            .unwrap_or(0);
        let columns = i16::try_from(formats.len()).unwrap_or(i16::MAX);
        self.send(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
            format, columns, formats,
        )));
        for chunk in copy["data"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let data = match chunk {
                Value::String(text) => Bytes::copy_from_slice(text.as_bytes()),
                other => other["base64"]
                    .as_str()
                    .and_then(|text| STANDARD.decode(text).ok())
                    .map(Bytes::from)
                    .unwrap_or_default(),
            };
            self.send(PgWireBackendMessage::CopyData(CopyData::new(data)));
        }
        self.send(PgWireBackendMessage::CopyDone(CopyDone::new()));
    }

    /// The transaction status after a command with `tag`.
    fn follow(&mut self, tag: &str) {
        let command = tag.split(' ').next().unwrap_or_default();
        self.status = match command {
            "BEGIN" | "START" => TransactionStatus::Transaction,
            "COMMIT" | "ROLLBACK" | "END" | "ABORT" => TransactionStatus::Idle,
            _ => self.status,
        };
    }

    /// An error: a transaction fails, a batch is skipped to its Sync.
    fn errored(&mut self) {
        if self.status == TransactionStatus::Transaction {
            self.status = TransactionStatus::Error;
        }
        self.skipping = true;
    }

    /// An ErrorResponse of the proxy's own.
    fn fail(&mut self, code: &str, message: &str) {
        self.send(wire::error("ERROR", code, message));
        self.errored();
    }

    fn ready(&mut self) {
        self.send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
            self.status,
        )));
    }

    /// Encodes `message` into what is sent next. Encoding into memory fails
    /// only for a message too long for its length field.
    fn send(&mut self, message: PgWireBackendMessage) {
        let _ = message.encode(&mut self.out);
    }
}

/// A statement's parameter types: the client's, or where it left one to
/// the server, the recorded ones.
fn parameter_types(prepared: &Prepared) -> Vec<u32> {
    let recorded = prepared
        .recorded
        .as_ref()
        .map_or(&[][..], |d| d.0.as_slice());
    let count = recorded
        .len()
        .max(prepared.types.len())
        .max(prepared.statement.parameters);
    // A type nobody knows is said to be `text`, never `0`, which no
    // server says: tokio-postgres would look a `0` up with a query whose
    // own parameter replay could not type either, and so on.
    (0..count)
        .map(|i| match prepared.types.get(i) {
            Some(&given) if given != 0 => given,
            _ => recorded
                .get(i)
                .copied()
                .filter(|&recorded| recorded != 0)
                .unwrap_or(UNKNOWN_TYPE),
        })
        .collect()
}

/// A recorded column as a RowDescription field in `format`.
fn field(column: &Value, format: i16) -> FieldDescription {
    let int = |key: &str| column[key].as_i64().unwrap_or(0);
    FieldDescription::new(
        column["name"].as_str().unwrap_or_default().to_owned(),
        int("table") as i32,
        int("column") as i16,
        int("type") as u32,
        int("size") as i16,
        int("modifier") as i32,
        format,
    )
}

/// The code byte of an ErrorResponse field by the name recordings give it
/// (or the letter itself, for a field without a name).
fn field_code(name: &str) -> Option<u8> {
    match capture::ERROR_FIELDS.iter().find(|(_, n)| *n == name) {
        Some((code, _)) => Some(*code),
        None if name.len() == 1 => name.bytes().next(),
        None => None,
    }
}
