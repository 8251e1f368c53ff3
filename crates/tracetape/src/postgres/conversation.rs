//! One connection's messages, both ways, read as operations: which query
//! each answer belongs to, when it ended, and how.
//!
//! The client may send several messages before any answer comes
//! (tokio-postgres pipelines; every driver sends Parse, Bind, Describe,
//! Execute and Sync together), and the server answers them in order. So
//! the messages that expect an answer wait in a queue, each taken off by
//! the answer that closes it. An operation is one simple `Query` (ended by
//! its ReadyForQuery, however many statements it held) or one `Execute`
//! of the extended protocol (ended by its CommandComplete,
//! EmptyQueryResponse or PortalSuspended), the SQL found through the
//! portal and statement that `Bind` and `Parse` named. After an error the
//! server skips the rest of the batch up to its `Sync`: the error belongs
//! to the batch's `Execute` (or to its `Parse` when nothing was to be
//! executed, as when a statement is only prepared), and what was skipped
//! made no operation. A `COPY` is one operation, its data in between.
//!
//! An operation that record mode records also keeps its parameters (with
//! the types the server described for its statement), its columns (the
//! statement's, in the formats the client bound) and rows, command tags
//! and error ([`Captured`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use opentelemetry::Context;

use super::capture::{self, Captured, Column, Columns, Parameter};
use super::idle;
use super::marker::{self, Seen};
use super::reader::{BindParameters, BindValues};
use super::record::{self, Pending};
use super::sql::Statement;
use crate::http_attrs::interned::FnvBuild;
use crate::layer_modes::LayerModes;

/// What the client sent, as far as operations are concerned.
#[derive(Debug)]
pub(crate) enum Sent<'a> {
    /// The start-up message's `database` and `user`.
    Startup {
        database: Option<&'a str>,
        user: Option<&'a str>,
    },
    /// A simple query.
    Query(&'a str),
    /// A statement prepared under a name (`""` the unnamed one), with
    /// the parameter types the client gave (`0`: the server's choice).
    Parse {
        statement: &'a str,
        sql: &'a str,
        types: Vec<u32>,
    },
    /// A portal made from a statement, with the parameters' formats and
    /// values and the results' formats (read only when recorded).
    Bind {
        portal: &'a str,
        statement: &'a str,
        parameters: BindParameters<'a>,
    },
    /// A statement (`Some(name)`) or a portal (`None`) described.
    Describe { statement: Option<&'a str> },
    /// A portal run.
    Execute { portal: &'a str },
    /// A statement (`S`) or portal (`P`) closed.
    Close { kind: u8, name: &'a str },
    /// The end of an extended-protocol batch.
    Sync,
    /// Anything that expects no answer of its own (Flush, CopyData,
    /// CopyDone, CopyFail, Terminate, passwords).
    Other,
}

/// What the server answered.
#[derive(Debug)]
pub(crate) enum Answered<'a> {
    ParseComplete,
    BindComplete,
    CloseComplete,
    /// A statement's parameter types (the start of a statement Describe's
    /// answer).
    ParameterDescription(Vec<u32>),
    /// The columns of a statement, portal or simple query's statement
    /// (the end of a Describe's answer).
    RowDescription(Vec<Column>),
    /// No columns (the end of a Describe's answer).
    NoData,
    /// A row: the DataRow's body.
    DataRow(&'a [u8]),
    /// A `COPY … TO STDOUT` begins: its format and its columns' formats.
    CopyOut {
        format: i8,
        column_formats: Vec<i16>,
    },
    /// Data of a `COPY … TO STDOUT`: the CopyData's body.
    CopyData(&'a [u8]),
    /// A statement done, with its command tag.
    CommandComplete(&'a str),
    /// An empty query done.
    EmptyQuery,
    /// An Execute's row limit reached.
    PortalSuspended,
    /// An error: its fields by code byte.
    Error(&'a [(u8, String)]),
    /// Ready for the next query, with the transaction status byte.
    Ready(u8),
    /// Anything that closes nothing (ParameterStatus, NoticeResponse,
    /// NotificationResponse, authentication, copy responses).
    Other,
}

/// What the proxy does with a message the client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Send it on to the server.
    Forward,
    /// A marker (not a ping) with nothing waiting for an answer: answer
    /// it here with EmptyQueryResponse and ReadyForQuery with this status
    /// byte.
    AnswerMarker(u8),
}

/// A failed operation's SQLSTATE and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DbError {
    pub(crate) code: String,
    pub(crate) message: String,
}

/// An operation that has ended.
#[derive(Debug)]
pub(crate) struct Operation {
    /// The statement run.
    pub(crate) statement: Arc<Statement>,
    /// The context of the task that took the connection last.
    pub(crate) context: Context,
    pub(crate) started: SystemTime,
    pub(crate) started_at: Instant,
    pub(crate) ended_at: Instant,
    pub(crate) error: Option<DbError>,
    /// Where it is recorded, and what it kept; `None` when it is not.
    pub(crate) recording: Option<Pending>,
}

/// An operation under way.
#[derive(Debug)]
struct Running {
    statement: Arc<Statement>,
    context: Context,
    started: SystemTime,
    started_at: Instant,
    error: Option<DbError>,
    recording: Option<Pending>,
}

impl Running {
    fn new(statement: Arc<Statement>, context: &Context) -> Self {
        Self {
            statement,
            context: context.clone(),
            started: SystemTime::now(),
            started_at: Instant::now(),
            error: None,
            recording: None,
        }
    }

    /// What it keeps for record mode, when it is recorded.
    fn captured(&mut self) -> Option<&mut Captured> {
        self.recording.as_mut().map(|pending| &mut pending.captured)
    }

    fn end(self) -> Operation {
        Operation {
            statement: self.statement,
            context: self.context,
            started: self.started,
            started_at: self.started_at,
            ended_at: Instant::now(),
            error: self.error,
            recording: self.recording,
        }
    }
}

/// A prepared statement, and what the server said of it.
#[derive(Debug)]
struct Prepared {
    statement: Arc<Statement>,
    /// Parse's types, then the server's (ParameterDescription).
    parameter_types: Vec<u32>,
    /// The server's RowDescription, in text format; `None` before a
    /// Describe, or for a statement without rows.
    columns: Option<Vec<Column>>,
    /// Its columns in the formats of the last Bind of a recorded
    /// operation, for the next one bound alike.
    bound: Option<Arc<Columns>>,
}

impl Prepared {
    /// Its columns in the result `formats` of a Bind: the last Bind's
    /// list when its formats were the same.
    fn columns_in(&mut self, formats: &[i16]) -> Option<Arc<Columns>> {
        let described = self.columns.as_ref()?;
        let alike = |list: &[Column]| {
            (list.iter().enumerate())
                .all(|(i, column)| column.format == capture::format_at(formats, i))
        };
        if let Some(last) = &self.bound
            && alike(&last.list)
        {
            return Some(last.clone());
        }
        let list = described.iter().enumerate().map(|(i, column)| Column {
            format: capture::format_at(formats, i),
            ..column.clone()
        });
        let columns = Columns::new(list.collect());
        self.bound = Some(columns.clone());
        Some(columns)
    }
}

/// A portal: a statement bound to its parameters.
#[derive(Debug)]
struct Bound {
    statement: Arc<Statement>,
    /// Kept only when the portal is bound for a recorded operation.
    parameters: Vec<Parameter>,
    /// The statement's columns in the bound formats, likewise.
    columns: Option<Arc<Columns>>,
}

/// A message that waits for the answer that closes it.
#[derive(Debug)]
enum Waiting {
    /// A Parse, with what would fail if it did.
    Parse(Running),
    Bind,
    /// A Describe of this statement, or of a portal (`None`).
    Describe(Option<String>),
    Close,
    Sync,
    Execute(Running),
    Query(Running),
    /// A marker sent on to the server (a ping, or something else was
    /// waiting).
    Marker,
}

/// One connection's operations, read from both directions.
#[derive(Debug, Default)]
pub(crate) struct Conversation {
    /// The database named at start-up (`db.namespace`).
    pub(crate) database: Option<Arc<str>>,
    /// The context of the task that took the connection last, with its
    /// request's recording and replay scope asleep
    /// ([`idle`](super::idle)).
    context: Context,
    statements: HashMap<String, Prepared, FnvBuild>,
    portals: HashMap<String, Bound, FnvBuild>,
    waiting: VecDeque<Waiting>,
    /// The last transaction status the server said.
    status: u8,
    /// The recorder the proxy was given in code, if any.
    modes: LayerModes,
}

impl Conversation {
    #[cfg(test)]
    pub(crate) fn new() -> Self {
        Self::with_modes(LayerModes::default())
    }

    /// A conversation recording with the recorder of `modes` (else the
    /// process-wide one).
    pub(crate) fn with_modes(modes: LayerModes) -> Self {
        Self {
            status: b'I',
            modes,
            ..Self::default()
        }
    }

    /// Takes in a message the client sent, and says where it goes.
    pub(crate) fn sent(&mut self, message: Sent<'_>) -> Route {
        match message {
            Sent::Startup { database, user } => {
                // PostgreSQL's default database is the user's name.
                self.database = database.or(user).map(Arc::from);
            }
            Sent::Query(text) => match marker::take(text) {
                Seen::Marker { context, ping } => {
                    self.context = idle::asleep(&context);
                    if !ping && self.waiting.is_empty() {
                        return Route::AnswerMarker(self.status);
                    }
                    self.waiting.push_back(Waiting::Marker);
                }
                Seen::Query => {
                    let statement = Statement::new(text);
                    let mut running = Running::new(statement.clone(), &self.context);
                    running.recording = record::begin(&self.context, &self.modes, &statement);
                    self.waiting.push_back(Waiting::Query(running));
                }
            },
            Sent::Parse {
                statement,
                sql,
                types,
            } => {
                let parsed = Statement::new(sql);
                let prepared = Prepared {
                    statement: parsed.clone(),
                    parameter_types: types,
                    columns: None,
                    bound: None,
                };
                self.statements.insert(statement.to_owned(), prepared);
                self.waiting
                    .push_back(Waiting::Parse(Running::new(parsed, &self.context)));
            }
            Sent::Bind {
                portal,
                statement,
                parameters,
            } => {
                if let Some(prepared) = self.statements.get_mut(statement) {
                    let bound = if record::wanted(&self.context, &self.modes, &prepared.statement) {
                        // A Bind the server takes but this cannot read
                        // is recorded without its parameters.
                        let read = parameters.read().unwrap_or_default();
                        bind(prepared, true, &read)
                    } else {
                        bind(prepared, false, &BindValues::default())
                    };
                    match self.portals.get_mut(portal) {
                        Some(slot) => *slot = bound,
                        None => {
                            self.portals.insert(portal.to_owned(), bound);
                        }
                    }
                }
                self.waiting.push_back(Waiting::Bind);
            }
            Sent::Describe { statement } => {
                self.waiting
                    .push_back(Waiting::Describe(statement.map(str::to_owned)));
            }
            Sent::Execute { portal } => {
                let running = match self.portals.get(portal) {
                    Some(bound) => {
                        let mut running = Running::new(bound.statement.clone(), &self.context);
                        running.recording =
                            record::begin(&self.context, &self.modes, &bound.statement).map(
                                |mut pending| {
                                    pending.captured.parameters = bound.parameters.clone();
                                    pending.captured.results = vec![capture::ResultSet {
                                        columns: bound.columns.clone(),
                                        ..Default::default()
                                    }];
                                    pending
                                },
                            );
                        running
                    }
                    // A portal never bound here (a driver's bug): no text.
                    None => Running::new(Statement::new(""), &self.context),
                };
                self.waiting.push_back(Waiting::Execute(running));
            }
            Sent::Close { kind, name } => {
                match kind {
                    b'S' => self.statements.remove(name).map(drop),
                    _ => self.portals.remove(name).map(drop),
                };
                self.waiting.push_back(Waiting::Close);
            }
            Sent::Sync => self.waiting.push_back(Waiting::Sync),
            Sent::Other => {}
        }
        Route::Forward
    }

    /// Takes in what the server answered; the operation it ended, if
    /// any.
    pub(crate) fn answered(&mut self, message: Answered<'_>) -> Option<Operation> {
        match message {
            Answered::ParseComplete => self.pop_if(|w| matches!(w, Waiting::Parse(_))),
            Answered::BindComplete => self.pop_if(|w| matches!(w, Waiting::Bind)),
            Answered::CloseComplete => self.pop_if(|w| matches!(w, Waiting::Close)),
            Answered::ParameterDescription(types) => {
                if let Some(Waiting::Describe(Some(name))) = self.waiting.front()
                    && let Some(prepared) = self.statements.get_mut(name)
                {
                    prepared.parameter_types = types;
                }
                None
            }
            Answered::RowDescription(columns) => self.described(Some(columns)),
            Answered::NoData => self.described(None),
            Answered::DataRow(body) => {
                if let Some(captured) = self.front_captured() {
                    let cells = capture::cells(&Bytes::copy_from_slice(body)).unwrap_or_default();
                    captured.current().rows.push(cells);
                }
                None
            }
            Answered::CopyOut {
                format,
                column_formats,
            } => {
                if let Some(captured) = self.front_captured() {
                    captured.current().copy_out = Some(capture::CopyOut {
                        format,
                        column_formats,
                        data: Vec::new(),
                    });
                }
                None
            }
            Answered::CopyData(data) => {
                let copy = self.front_captured().map(Captured::current);
                if let Some(copy) = copy.and_then(|result| result.copy_out.as_mut()) {
                    copy.data.push(Bytes::copy_from_slice(data));
                }
                None
            }
            Answered::CommandComplete(tag) => {
                if let Some(captured) = self.front_captured() {
                    captured.current().tag = Some(tag.to_owned());
                }
                self.end_execute()
            }
            // A simple query ends at its ReadyForQuery, an Execute here.
            Answered::EmptyQuery | Answered::PortalSuspended => self.end_execute(),
            Answered::Error(fields) => self.failed(fields),
            Answered::Ready(status) => {
                self.status = status;
                if status == b'I' {
                    // Portals end with their transaction.
                    self.portals.retain(|name, _| name.is_empty());
                }
                match self.waiting.pop_front() {
                    Some(Waiting::Query(running)) => Some(running.end()),
                    // Sync, a marker sent on, or nothing at all.
                    _ => None,
                }
            }
            Answered::Other => None,
        }
    }

    /// What the operation at the front keeps, when it is recorded.
    fn front_captured(&mut self) -> Option<&mut Captured> {
        match self.waiting.front_mut() {
            Some(Waiting::Query(running) | Waiting::Execute(running)) => running.captured(),
            _ => None,
        }
    }

    /// The front message taken off when it is the one `closes` closes.
    fn pop_if(&mut self, closes: impl Fn(&Waiting) -> bool) -> Option<Operation> {
        if self.waiting.front().is_some_and(closes) {
            self.waiting.pop_front();
        }
        None
    }

    /// A RowDescription or NoData: a Describe's end, or the columns of a
    /// simple query's next statement.
    fn described(&mut self, columns: Option<Vec<Column>>) -> Option<Operation> {
        match self.waiting.front_mut() {
            Some(Waiting::Describe(name)) => {
                if let Some(name) = name
                    && let Some(prepared) = self.statements.get_mut(name.as_str())
                {
                    prepared.columns = columns;
                    prepared.bound = None;
                }
                self.waiting.pop_front();
            }
            Some(Waiting::Query(running)) => {
                if let Some(captured) = running.captured() {
                    captured.current().columns = columns.map(Columns::new);
                }
            }
            _ => {}
        }
        None
    }

    /// The Execute at the front ended, when there is one.
    fn end_execute(&mut self) -> Option<Operation> {
        if !matches!(self.waiting.front(), Some(Waiting::Execute(_))) {
            return None;
        }
        let Some(Waiting::Execute(running)) = self.waiting.pop_front() else {
            return None;
        };
        Some(running.end())
    }

    /// An error: the simple query's, or the batch's up to its Sync.
    fn failed(&mut self, fields: &[(u8, String)]) -> Option<Operation> {
        let field = |code: u8| {
            fields
                .iter()
                .find(|(c, _)| *c == code)
                .map_or("", |(_, value)| value.as_str())
        };
        let error = DbError {
            code: field(b'C').to_owned(),
            message: field(b'M').to_owned(),
        };
        match self.waiting.front_mut() {
            // It ends at its ReadyForQuery.
            Some(Waiting::Query(running)) => {
                running.error = Some(error);
                if let Some(captured) = running.captured() {
                    captured.error = Some(fields.to_vec());
                }
                return None;
            }
            // Nothing of the client's (a server shutting down).
            Some(Waiting::Marker) | None => return None,
            Some(_) => {}
        }
        // The server skips everything up to the batch's Sync.
        let mut failed: Option<Running> = None;
        let mut parse: Option<Running> = None;
        while let Some(waiting) = self.waiting.front() {
            if matches!(waiting, Waiting::Sync) {
                break;
            }
            match self.waiting.pop_front() {
                Some(Waiting::Execute(running)) if failed.is_none() => failed = Some(running),
                Some(Waiting::Parse(running)) if parse.is_none() => parse = Some(running),
                _ => {}
            }
        }
        let mut running = failed.or(parse)?;
        running.error = Some(error);
        if let Some(captured) = running.captured() {
            captured.error = Some(fields.to_vec());
        }
        Some(running.end())
    }
}

/// A portal from `prepared`; its parameters and columns kept only when
/// `recorded`.
fn bind(prepared: &mut Prepared, recorded: bool, read: &BindValues) -> Bound {
    let BindValues {
        formats,
        values,
        result_formats,
    } = read;
    if !recorded {
        return Bound {
            statement: prepared.statement.clone(),
            parameters: Vec::new(),
            columns: None,
        };
    }
    let parameters = values
        .iter()
        .enumerate()
        .map(|(i, value)| Parameter {
            type_oid: prepared.parameter_types.get(i).copied().unwrap_or(0),
            format: capture::format_at(formats, i),
            value: value.clone(),
        })
        .collect();
    Bound {
        statement: prepared.statement.clone(),
        parameters,
        columns: prepared.columns_in(result_formats),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn execute(conversation: &mut Conversation, statement: &str, sql: Option<&str>) {
        if let Some(sql) = sql {
            conversation.sent(Sent::Parse {
                statement,
                sql,
                types: Vec::new(),
            });
        }
        conversation.sent(Sent::Bind {
            portal: "",
            statement,
            parameters: BindParameters::none(),
        });
        conversation.sent(Sent::Execute { portal: "" });
        conversation.sent(Sent::Sync);
    }

    fn sql(operation: Option<Operation>) -> (String, Option<String>) {
        let operation = operation.expect("an operation ended");
        (
            operation.statement.sql.to_string(),
            operation.error.map(|e| e.code),
        )
    }

    fn error(code: &str) -> Vec<(u8, String)> {
        vec![
            (b'S', "ERROR".into()),
            (b'C', code.into()),
            (b'M', "failed".into()),
        ]
    }

    #[test]
    fn pipelined_executions_end_in_order_with_their_statements() {
        let mut conversation = Conversation::new();
        execute(&mut conversation, "s1", Some("SELECT 1"));
        // A statement prepared earlier, executed again.
        execute(&mut conversation, "s1", None);
        let mut ended = Vec::new();
        for answer in [
            Answered::ParseComplete,
            Answered::BindComplete,
            Answered::Other,
            Answered::CommandComplete("SELECT 1"),
            Answered::Ready(b'I'),
            Answered::BindComplete,
            Answered::CommandComplete("SELECT 1"),
            Answered::Ready(b'I'),
        ] {
            ended.extend(conversation.answered(answer));
        }
        let ended: Vec<_> = ended
            .into_iter()
            .map(|op| op.statement.sql.to_string())
            .collect();
        assert_eq!(ended, ["SELECT 1", "SELECT 1"]);
        assert!(conversation.waiting.is_empty());
    }

    #[test]
    fn an_error_belongs_to_the_batch_s_execute_and_skips_the_rest() {
        let mut conversation = Conversation::new();
        execute(&mut conversation, "", Some("INSERT INTO t VALUES ($1)"));
        execute(&mut conversation, "", Some("SELECT 2"));
        assert!(conversation.answered(Answered::ParseComplete).is_none());
        assert!(conversation.answered(Answered::BindComplete).is_none());
        let failed = conversation.answered(Answered::Error(&error("23505")));
        assert_eq!(
            sql(failed),
            ("INSERT INTO t VALUES ($1)".into(), Some("23505".into()))
        );
        assert!(conversation.answered(Answered::Ready(b'I')).is_none());
        // The next batch is read as usual.
        for answer in [Answered::ParseComplete, Answered::BindComplete] {
            assert!(conversation.answered(answer).is_none());
        }
        let ended = conversation.answered(Answered::CommandComplete("SELECT 1"));
        assert_eq!(sql(ended), ("SELECT 2".into(), None));
    }

    #[test]
    fn a_statement_that_fails_to_prepare_is_an_operation() {
        let mut conversation = Conversation::new();
        conversation.sent(Sent::Parse {
            statement: "s",
            sql: "SELEC 1",
            types: Vec::new(),
        });
        conversation.sent(Sent::Describe {
            statement: Some("s"),
        });
        conversation.sent(Sent::Sync);
        let failed = conversation.answered(Answered::Error(&error("42601")));
        assert_eq!(sql(failed), ("SELEC 1".into(), Some("42601".into())));
        assert!(conversation.answered(Answered::Ready(b'I')).is_none());
        assert!(conversation.waiting.is_empty());
    }

    #[test]
    fn a_simple_query_ends_at_ready_for_query_with_its_error() {
        let mut conversation = Conversation::new();
        conversation.sent(Sent::Query("SELECT 1; SELECT x"));
        for answer in [
            Answered::RowDescription(Vec::new()),
            Answered::Other,
            Answered::CommandComplete("SELECT 1"),
        ] {
            assert!(conversation.answered(answer).is_none());
        }
        assert!(
            conversation
                .answered(Answered::Error(&error("42703")))
                .is_none()
        );
        let ended = conversation.answered(Answered::Ready(b'I'));
        assert_eq!(
            sql(ended),
            ("SELECT 1; SELECT x".into(), Some("42703".into()))
        );
    }

    #[test]
    fn a_described_statement_gives_its_portals_their_columns_and_parameter_types() {
        let mut conversation = Conversation::new();
        conversation.sent(Sent::Parse {
            statement: "s",
            sql: "SELECT $1::int4",
            types: vec![0],
        });
        conversation.sent(Sent::Describe {
            statement: Some("s"),
        });
        conversation.sent(Sent::Sync);
        let column = Column {
            name: "int4".into(),
            table_id: 0,
            column_id: 0,
            type_oid: 23,
            type_size: 4,
            type_modifier: -1,
            format: 0,
        };
        for answer in [
            Answered::ParseComplete,
            Answered::ParameterDescription(vec![23]),
            Answered::RowDescription(vec![column.clone()]),
            Answered::Ready(b'I'),
        ] {
            assert!(conversation.answered(answer).is_none());
        }
        let prepared = conversation.statements.get_mut("s").expect("prepared");
        assert_eq!(prepared.parameter_types, [23]);
        let read = BindValues {
            formats: vec![1],
            values: vec![Some(Bytes::from_static(&[0, 0, 0, 7]))],
            result_formats: vec![1],
        };
        let bound = bind(prepared, true, &read);
        assert_eq!(bound.parameters[0].type_oid, 23);
        assert_eq!(bound.parameters[0].format, 1);
        let columns = bound.columns.expect("described");
        assert_eq!(
            columns.list,
            [Column {
                format: 1,
                ..column.clone()
            }]
        );
        // Bound alike again: the same list; in other formats, its own.
        let again = bind(prepared, true, &read).columns.expect("described");
        assert!(Arc::ptr_eq(&columns, &again));
        let text = BindValues {
            result_formats: vec![],
            ..read
        };
        let in_text = bind(prepared, true, &text).columns.expect("described");
        assert_eq!(in_text.list, [column]);
        // Not recorded: no parameters or columns kept.
        let unrecorded = bind(prepared, false, &text);
        assert!(unrecorded.parameters.is_empty() && unrecorded.columns.is_none());
    }

    #[test]
    fn a_marker_is_answered_here_only_when_nothing_waits() {
        let mut conversation = Conversation::new();
        let marker = crate::postgres::marker();
        assert_eq!(
            conversation.sent(Sent::Query(&marker)),
            Route::AnswerMarker(b'I')
        );
        conversation.sent(Sent::Query("BEGIN"));
        assert!(
            conversation
                .answered(Answered::CommandComplete("BEGIN"))
                .is_none()
        );
        assert!(conversation.answered(Answered::Ready(b'T')).is_some());
        // Inside the transaction the status said is the server's.
        let marker = crate::postgres::marker();
        assert_eq!(
            conversation.sent(Sent::Query(&marker)),
            Route::AnswerMarker(b'T')
        );
        // With an answer outstanding, the server answers it, in order.
        conversation.sent(Sent::Query("SELECT 1"));
        let marker = crate::postgres::marker();
        assert_eq!(conversation.sent(Sent::Query(&marker)), Route::Forward);
        assert!(conversation.answered(Answered::Ready(b'T')).is_some());
        assert!(conversation.answered(Answered::EmptyQuery).is_none());
        assert!(conversation.answered(Answered::Ready(b'T')).is_none());
        assert!(conversation.waiting.is_empty());
        // A ping is the server's to answer, even with nothing waiting.
        let ping = crate::postgres::ping_marker();
        assert_eq!(conversation.sent(Sent::Query(&ping)), Route::Forward);
        assert!(conversation.answered(Answered::EmptyQuery).is_none());
        assert!(conversation.answered(Answered::Ready(b'I')).is_none());
        assert!(conversation.waiting.is_empty());
    }
}
