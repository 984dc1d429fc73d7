pub mod form;
pub mod header;
