//! gRPC status codes, and which of them make a span an error on each
//! side of a call.

/// A gRPC status code (0 to 16; anything else read is [`Code::Unknown`],
/// as gRPC itself treats an unknown code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    Ok,
    Cancelled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
}

/// Which end of the call a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

impl Code {
    /// Every code, by number.
    const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The code numbered `number`.
    pub(crate) fn from_number(number: u16) -> Self {
        Self::ALL
            .get(usize::from(number))
            .copied()
            .unwrap_or(Code::Unknown)
    }

    /// The status a gRPC client makes of a response that is not gRPC's
    /// (no `grpc-status`, an HTTP status other than 200), as gRPC's
    /// HTTP-to-gRPC status mapping says.
    pub(crate) fn from_http(status: http::StatusCode) -> Self {
        match status.as_u16() {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }

    /// Its number, `rpc.grpc.status_code`.
    pub(crate) fn number(self) -> i64 {
        Self::ALL
            .iter()
            .position(|code| *code == self)
            .map_or(2, |at| at as i64)
    }

    /// Its name, as gRPC spells it: `error.type` of a failed call.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// Whether the call failed, seen from `side`. A client counts every
    /// code but `OK` as an error; a server only those that say it failed
    /// itself (`UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`,
    /// `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`): a `NOT_FOUND` or
    /// `INVALID_ARGUMENT` is the server doing its job, as a 4xx is for
    /// HTTP.
    pub(crate) fn is_error(self, side: Side) -> bool {
        match side {
            Side::Client => self != Code::Ok,
            Side::Server => matches!(
                self,
                Code::Unknown
                    | Code::DeadlineExceeded
                    | Code::Unimplemented
                    | Code::Internal
                    | Code::Unavailable
                    | Code::DataLoss
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_by_number_and_named_as_grpc_names_them() {
        assert_eq!(Code::from_number(5), Code::NotFound);
        assert_eq!(Code::NotFound.number(), 5);
        assert_eq!(Code::from_number(16).name(), "UNAUTHENTICATED");
        assert_eq!(Code::from_number(17), Code::Unknown);
        for number in 0..17 {
            assert_eq!(Code::from_number(number).number(), i64::from(number));
        }
    }

    #[test]
    fn a_server_fails_on_fewer_codes_than_its_client() {
        assert!(!Code::NotFound.is_error(Side::Server));
        assert!(Code::NotFound.is_error(Side::Client));
        assert!(Code::Internal.is_error(Side::Server));
        assert!(!Code::Cancelled.is_error(Side::Server));
        assert!(!Code::Ok.is_error(Side::Client));
    }
}
