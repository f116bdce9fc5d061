//! API tests: each spawns the real server on port 0 over a fresh SQLite file,
//! or a fresh PostgreSQL database when `IHOS_TEST_PG` is set.

mod helpers;

mod consultation;
mod errors;
mod followup;
mod identity;
mod imaging;
mod nursing;
mod ops;
mod organisations;
mod pharmacy;
mod referral;
mod scheduling;
mod triage;
