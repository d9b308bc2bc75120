//! Raising core errors as Postgres ERRORs with their SQLSTATEs.

use hnsw_core::VectorError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

fn error_code(e: &VectorError) -> PgSqlErrorCode {
    match e.sqlstate() {
        "22P02" => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        "22003" => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        "22004" => PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        "22023" => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        "54000" => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        "08P01" => PgSqlErrorCode::ERRCODE_PROTOCOL_VIOLATION,
        _ => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
    }
}

/// Reports `e` as an ERROR about a `vector`; does not return.
pub fn raise(e: VectorError) -> ! {
    raise_for(e, "vector")
}

/// Reports `e` as an ERROR about a value of SQL type `ty`; does not return.
pub fn raise_for(e: VectorError, ty: &str) -> ! {
    let mut report = ErrorReport::new(error_code(&e), e.message(ty), "hnsw_pg");
    if let Some(detail) = e.detail() {
        report = report.set_detail(detail);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// `result.or_raise()`: the value, or the error raised as an ERROR.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
    /// The same, for a value of SQL type `ty` (`halfvec`).
    fn or_raise_for(self, ty: &str) -> T;
}

impl<T> OrRaise<T> for Result<T, VectorError> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| raise(e))
    }
    fn or_raise_for(self, ty: &str) -> T {
        self.unwrap_or_else(|e| raise_for(e, ty))
    }
}

/// Reports an ERROR with a HINT (pgrx's `ereport!` takes a DETAIL only); does not return.
pub fn raise_with_hint(code: PgSqlErrorCode, message: String, hint: &str) -> ! {
    ErrorReport::new(code, message, "hnsw_pg")
        .set_hint(hint)
        .report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}
