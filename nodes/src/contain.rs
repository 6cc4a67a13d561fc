//! Containing a library's panic: symphonia 0.5 panics on some hostile
//! headers (a `TimeBase` of 0 Hz behind bytes bounce's own header check
//! does not see, a junk prefix before `FORM`). Every call into it that
//! reads a file's bytes goes through [`contained`], so a hostile file is
//! an error naming the file, never a crash; and the panic's own message is
//! kept off the terminal once [`quiet_contained_panics`] is installed.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static CONTAINING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work`, turning a panic into its message.
pub fn contained<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    let was = CONTAINING.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(work));
    CONTAINING.with(|c| c.set(was));
    result.map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the decoder stopped".into())
    })
}

/// Keeps the default panic message for every panic but a contained one.
pub fn quiet_contained_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !CONTAINING.with(Cell::get) {
            default(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_its_message_and_the_flag_is_restored() {
        assert_eq!(contained(|| 3), Ok(3));
        let error = contained(|| -> u32 { panic!("TimeBase cannot have 0 denominator") });
        assert_eq!(error, Err("TimeBase cannot have 0 denominator".into()));
        assert!(!CONTAINING.with(Cell::get));
    }
}
