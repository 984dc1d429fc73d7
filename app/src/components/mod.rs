pub mod activity;
pub mod code;
pub mod form;
pub mod header;
pub mod language;
pub mod password;
pub mod session_item;
pub mod time;
