//! Whole messages told to a [`Conversation`]. Only the messages that
//! open or close an operation, or describe one, are read: the client's
//! in place ([`Reader`]), the server's descriptions and errors with
//! pgwire's codec; a row is handed on as its bytes (read only for an
//! operation being recorded), copy data by its type byte.

use bytes::BytesMut;
use pgwire::error::PgWireError;
use pgwire::messages::copy::CopyOutResponse;
use pgwire::messages::data::{ParameterDescription, RowDescription};
use pgwire::messages::response::ErrorResponse;
use pgwire::messages::startup::Startup;
use pgwire::messages::{DecodeContext, Message, PgWireBackendMessage, ProtocolVersion};

use super::capture::Column;
use super::conversation::{Answered, Conversation, Operation, Route, Sent};
use super::frames::FrameRef;
use super::reader::{BindParameters, Malformed, Reader};

/// The code of an SSLRequest, in place of a protocol version.
pub(crate) const SSL_REQUEST: i32 = 80_877_103;
/// The code of a GSSENCRequest.
const GSSENC_REQUEST: i32 = 80_877_104;
/// The code of a CancelRequest.
const CANCEL_REQUEST: i32 = 80_877_102;

/// What a client's untyped first message asks.
#[derive(Debug)]
pub(crate) enum Opening {
    /// TLS, or GSSAPI encryption: answered `N`, and the client goes on
    /// without.
    Encryption,
    /// Cancel a query running on another connection.
    Cancel,
    /// The start-up message, with its `database` and `user`.
    Startup {
        database: Option<String>,
        user: Option<String>,
    },
}

/// What an untyped first message is.
pub(crate) fn opening(frame: FrameRef<'_>) -> Result<Opening, PgWireError> {
    let code = frame
        .body()
        .get(..4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    match code {
        Some(SSL_REQUEST | GSSENC_REQUEST) => Ok(Opening::Encryption),
        Some(CANCEL_REQUEST) => Ok(Opening::Cancel),
        _ => {
            let mut buffer = BytesMut::from(frame.bytes);
            let startup = Startup::decode(&mut buffer, &typed())?
                .ok_or(PgWireError::InvalidStartupMessage)?;
            let get = |key: &str| startup.parameters.get(key).cloned();
            Ok(Opening::Startup {
                database: get("database"),
                user: get("user"),
            })
        }
    }
}

/// A context for typed messages, after start-up.
pub(crate) fn typed() -> DecodeContext {
    let mut context = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
    context.awaiting_frontend_ssl = false;
    context.awaiting_frontend_startup = false;
    context
}

/// An ErrorResponse of the proxy's own: `severity` (`ERROR`, `FATAL`),
/// SQLSTATE `code` and `message`.
pub(crate) fn error(severity: &str, code: &str, message: &str) -> PgWireBackendMessage {
    let fields = [
        (b'S', severity),
        (b'V', severity),
        (b'C', code),
        (b'M', message),
    ];
    let fields = fields
        .map(|(field, value)| (field, value.to_owned()))
        .to_vec();
    PgWireBackendMessage::ErrorResponse(ErrorResponse::new(fields))
}

/// Tells `conversation` what the client sent in `frame` (typed). The
/// message is read in place ([`Reader`]): a name borrowed, nothing
/// copied, a Bind's values left for record mode to read.
pub(crate) fn client_sent(
    conversation: &mut Conversation,
    frame: FrameRef<'_>,
) -> Result<Route, Malformed> {
    let mut body = Reader::new(frame);
    let sent = match frame.tag {
        Some(b'Q') => Sent::Query(body.cstr()?),
        Some(b'P') => {
            let statement = body.cstr()?;
            let sql = body.cstr()?;
            let count = body.count()?;
            let types = (0..count).map(|_| body.u32()).collect::<Result<_, _>>()?;
            Sent::Parse {
                statement,
                sql,
                types,
            }
        }
        Some(b'B') => Sent::Bind {
            portal: body.cstr()?,
            statement: body.cstr()?,
            parameters: BindParameters::at(body),
        },
        Some(b'D') => {
            let kind = body.byte()?;
            let name = body.cstr()?;
            Sent::Describe {
                statement: (kind == b'S').then_some(name),
            }
        }
        Some(b'E') => Sent::Execute {
            portal: body.cstr()?,
        },
        Some(b'C') => Sent::Close {
            kind: body.byte()?,
            name: body.cstr()?,
        },
        Some(b'S') => Sent::Sync,
        // Nothing else opens or closes an operation.
        _ => Sent::Other,
    };
    Ok(conversation.sent(sent))
}

/// Tells `conversation` what the server answered in `frame`; the
/// operation it ended, if any.
pub(crate) fn server_answered(
    conversation: &mut Conversation,
    frame: FrameRef<'_>,
) -> Result<Option<Operation>, PgWireError> {
    let body = frame.body();
    let answered = match frame.tag {
        Some(b'1') => Answered::ParseComplete,
        Some(b'2') => Answered::BindComplete,
        Some(b'3') => Answered::CloseComplete,
        Some(b'n') => Answered::NoData,
        Some(b'I') => Answered::EmptyQuery,
        Some(b's') => Answered::PortalSuspended,
        Some(b'Z') => Answered::Ready(body.first().copied().unwrap_or(b'I')),
        Some(b'D') => return Ok(conversation.answered(Answered::DataRow(body))),
        Some(b'd') => return Ok(conversation.answered(Answered::CopyData(body))),
        Some(b'H') => {
            let mut buffer = BytesMut::from(frame.bytes);
            let response = CopyOutResponse::decode(&mut buffer, &typed())?
                .ok_or(PgWireError::InvalidMessageType(b'H'))?;
            Answered::CopyOut {
                format: response.format,
                column_formats: response.column_formats,
            }
        }
        Some(b'C') => {
            let tag = body.split(|b| *b == 0).next().unwrap_or_default();
            let tag = String::from_utf8_lossy(tag);
            return Ok(conversation.answered(Answered::CommandComplete(&tag)));
        }
        Some(b't') => {
            let mut buffer = BytesMut::from(frame.bytes);
            let described = ParameterDescription::decode(&mut buffer, &typed())?
                .ok_or(PgWireError::InvalidMessageType(b't'))?;
            Answered::ParameterDescription(described.types)
        }
        Some(b'T') => {
            let mut buffer = BytesMut::from(frame.bytes);
            let described = RowDescription::decode(&mut buffer, &typed())?
                .ok_or(PgWireError::InvalidMessageType(b'T'))?;
            let columns = described.fields.into_iter().map(|field| Column {
                name: field.name,
                table_id: field.table_id,
                column_id: field.column_id,
                type_oid: field.type_id,
                type_size: field.type_size,
                type_modifier: field.type_modifier,
                format: field.format_code,
            });
            Answered::RowDescription(columns.collect())
        }
        Some(b'E') => {
            let mut buffer = BytesMut::from(frame.bytes);
            let error = ErrorResponse::decode(&mut buffer, &typed())?
                .ok_or(PgWireError::InvalidMessageType(b'E'))?;
            return Ok(conversation.answered(Answered::Error(&error.fields)));
        }
        _ => Answered::Other,
    };
    Ok(conversation.answered(answered))
}
