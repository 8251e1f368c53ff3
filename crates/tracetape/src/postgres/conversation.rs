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

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use opentelemetry::Context;

use super::marker::{self, Seen};
use super::sql::Statement;

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
    /// A statement prepared under a name (`""` the unnamed one).
    Parse { statement: &'a str, sql: &'a str },
    /// A portal made from a statement.
    Bind { portal: &'a str, statement: &'a str },
    /// A statement or portal described.
    Describe,
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
    /// RowDescription or NoData: the end of a Describe's answer (a
    /// statement's ParameterDescription comes before it and closes
    /// nothing).
    Described,
    /// A statement done.
    CommandComplete,
    /// An empty query done.
    EmptyQuery,
    /// An Execute's row limit reached.
    PortalSuspended,
    /// An error, with its SQLSTATE and message.
    Error {
        code: &'a str,
        message: &'a str,
    },
    /// Ready for the next query, with the transaction status byte.
    Ready(u8),
    /// Anything that closes nothing (rows, ParameterStatus,
    /// NoticeResponse, NotificationResponse, authentication, copy
    /// responses).
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
}

/// An operation under way.
#[derive(Debug)]
struct Running {
    statement: Arc<Statement>,
    context: Context,
    started: SystemTime,
    started_at: Instant,
    error: Option<DbError>,
}

impl Running {
    fn new(statement: Arc<Statement>, context: &Context) -> Self {
        Self {
            statement,
            context: context.clone(),
            started: SystemTime::now(),
            started_at: Instant::now(),
            error: None,
        }
    }

    fn end(self) -> Operation {
        Operation {
            statement: self.statement,
            context: self.context,
            started: self.started,
            started_at: self.started_at,
            ended_at: Instant::now(),
            error: self.error,
        }
    }
}

/// A message that waits for the answer that closes it.
#[derive(Debug)]
enum Waiting {
    /// A Parse, with what would fail if it did.
    Parse(Running),
    Bind,
    Describe,
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
    context: Context,
    statements: HashMap<String, Arc<Statement>>,
    portals: HashMap<String, Arc<Statement>>,
    waiting: VecDeque<Waiting>,
    /// The last transaction status the server said.
    status: u8,
}

impl Conversation {
    pub(crate) fn new() -> Self {
        Self {
            status: b'I',
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
                    self.context = context;
                    if !ping && self.waiting.is_empty() {
                        return Route::AnswerMarker(self.status);
                    }
                    self.waiting.push_back(Waiting::Marker);
                }
                Seen::Query => {
                    let running = Running::new(Statement::new(text), &self.context);
                    self.waiting.push_back(Waiting::Query(running));
                }
            },
            Sent::Parse { statement, sql } => {
                let parsed = Statement::new(sql);
                self.statements.insert(statement.to_owned(), parsed.clone());
                self.waiting
                    .push_back(Waiting::Parse(Running::new(parsed, &self.context)));
            }
            Sent::Bind { portal, statement } => {
                if let Some(parsed) = self.statements.get(statement) {
                    self.portals.insert(portal.to_owned(), parsed.clone());
                }
                self.waiting.push_back(Waiting::Bind);
            }
            Sent::Describe => self.waiting.push_back(Waiting::Describe),
            Sent::Execute { portal } => {
                // A portal never bound here (bound before the proxy was in
                // the way: cannot happen; a driver's bug): no text.
                let statement = self
                    .portals
                    .get(portal)
                    .cloned()
                    .unwrap_or_else(|| Statement::new(""));
                self.waiting
                    .push_back(Waiting::Execute(Running::new(statement, &self.context)));
            }
            Sent::Close { kind, name } => {
                match kind {
                    b'S' => self.statements.remove(name),
                    _ => self.portals.remove(name),
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
            Answered::Described => self.pop_if(|w| matches!(w, Waiting::Describe)),
            // A simple query ends at its ReadyForQuery, an Execute here.
            Answered::CommandComplete | Answered::EmptyQuery | Answered::PortalSuspended => {
                match self.waiting.front() {
                    Some(Waiting::Execute(_)) => self.end_front(),
                    _ => None,
                }
            }
            Answered::Error { code, message } => self.failed(DbError {
                code: code.to_owned(),
                message: message.to_owned(),
            }),
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

    /// The front message taken off when it is the one `closes` closes.
    fn pop_if(&mut self, closes: impl Fn(&Waiting) -> bool) -> Option<Operation> {
        if self.waiting.front().is_some_and(closes) {
            self.waiting.pop_front();
        }
        None
    }

    /// The Execute at the front ended.
    fn end_front(&mut self) -> Option<Operation> {
        let Some(Waiting::Execute(running)) = self.waiting.pop_front() else {
            return None;
        };
        Some(running.end())
    }

    /// An error: the simple query's, or the batch's up to its Sync.
    fn failed(&mut self, error: DbError) -> Option<Operation> {
        match self.waiting.front_mut() {
            // It ends at its ReadyForQuery.
            Some(Waiting::Query(running)) => {
                running.error = Some(error);
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
        Some(running.end())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn execute(conversation: &mut Conversation, statement: &str, sql: Option<&str>) {
        if let Some(sql) = sql {
            conversation.sent(Sent::Parse { statement, sql });
        }
        conversation.sent(Sent::Bind {
            portal: "",
            statement,
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
            Answered::CommandComplete,
            Answered::Ready(b'I'),
            Answered::BindComplete,
            Answered::CommandComplete,
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
        assert_eq!(
            conversation.answered(Answered::ParseComplete).map(|_| ()),
            None
        );
        assert_eq!(
            conversation.answered(Answered::BindComplete).map(|_| ()),
            None
        );
        let failed = conversation.answered(Answered::Error {
            code: "23505",
            message: "dup",
        });
        assert_eq!(
            sql(failed),
            ("INSERT INTO t VALUES ($1)".into(), Some("23505".into()))
        );
        assert!(conversation.answered(Answered::Ready(b'I')).is_none());
        // The next batch is read as usual.
        for answer in [Answered::ParseComplete, Answered::BindComplete] {
            assert!(conversation.answered(answer).is_none());
        }
        assert_eq!(
            sql(conversation.answered(Answered::CommandComplete)),
            ("SELECT 2".into(), None)
        );
    }

    #[test]
    fn a_statement_that_fails_to_prepare_is_an_operation() {
        let mut conversation = Conversation::new();
        conversation.sent(Sent::Parse {
            statement: "s",
            sql: "SELEC 1",
        });
        conversation.sent(Sent::Describe);
        conversation.sent(Sent::Sync);
        let failed = conversation.answered(Answered::Error {
            code: "42601",
            message: "syntax",
        });
        assert_eq!(sql(failed), ("SELEC 1".into(), Some("42601".into())));
        assert!(conversation.answered(Answered::Ready(b'I')).is_none());
        assert!(conversation.waiting.is_empty());
    }

    #[test]
    fn a_simple_query_ends_at_ready_for_query_with_its_error() {
        let mut conversation = Conversation::new();
        conversation.sent(Sent::Query("SELECT 1; SELECT x"));
        for answer in [
            Answered::Described,
            Answered::Other,
            Answered::CommandComplete,
        ] {
            assert!(conversation.answered(answer).is_none());
        }
        assert!(
            conversation
                .answered(Answered::Error {
                    code: "42703",
                    message: "x"
                })
                .is_none()
        );
        let ended = conversation.answered(Answered::Ready(b'I'));
        assert_eq!(
            sql(ended),
            ("SELECT 1; SELECT x".into(), Some("42703".into()))
        );
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
        assert!(conversation.answered(Answered::CommandComplete).is_none());
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
