pub mod code;
pub mod form;
pub mod header;
pub mod password;
pub mod time;
