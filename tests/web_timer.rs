//! The browser layer's one timer: a deadline further than a `setTimeout`
//! keeps (2^31 − 1 ms) is not fired at once, and a wake before the deadline
//! arms again instead of firing.
#![cfg(target_arch = "wasm32")]

mod web_support;

use std::cell::Cell;
use std::rc::Rc;

use tabworker::Timestamp;
use tabworker::web::timer::Timer;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The wall clock, `offset` ms off.
fn clock(offset: &Rc<Cell<i64>>) -> impl Fn() -> Timestamp + 'static {
    let offset = Rc::clone(offset);
    move || Timestamp::from_unix_millis((js_sys::Date::now() as i64 + offset.get()) as u64)
}

#[wasm_bindgen_test]
async fn a_deadline_thirty_days_away_is_not_fired_and_armed_once() {
    let fired = Rc::new(Cell::new(0u32));
    let count = Rc::clone(&fired);
    let timer = Timer::new(move || count.set(count.get() + 1));
    let now = Timestamp::from_unix_millis(js_sys::Date::now() as u64);
    // A backend's lifetime_limit_seconds of 30 days: 2,592,000,000 ms, past
    // what one setTimeout waits.
    timer.arm(Some(now.plus_millis(30 * 86_400_000)), now);
    // What a timer that fires at once would have done by now, many times over.
    JsFuture::from(web_support::delay(400, &JsValue::NULL)).await.unwrap();
    assert_eq!(fired.get(), 0, "a deadline 30 days away fired");
    assert_eq!(timer.arms(), 1, "armed again and again");
    timer.disarm();
}

#[wasm_bindgen_test]
async fn a_wake_before_the_deadline_arms_again_then_fires_once_at_it() {
    let offset = Rc::new(Cell::new(0i64));
    let (fired, resolve) = {
        let mut resolve = None;
        let fired = js_sys::Promise::new(&mut |r, _| resolve = Some(r));
        (fired, resolve.unwrap())
    };
    let clock_then = clock(&offset);
    let fires = Rc::new(Cell::new(0u32));
    let count = Rc::clone(&fires);
    let timer = Timer::with_clock(
        move || {
            count.set(count.get() + 1);
            resolve.call1(&JsValue::NULL, &JsValue::from_f64(clock_then().unix_millis() as f64)).unwrap();
        },
        clock(&offset),
    );
    let now = clock(&offset)();
    let deadline = now.plus_millis(30);
    timer.arm(Some(deadline), now);
    // From now on the clock says 100 ms less: the setTimeout of 30 ms
    // wakes 100 ms before the deadline as the clock tells it.
    offset.set(-100);
    let at = web_support::within(3_000, "the timer to fire", fired).await;
    assert!(at.as_f64().unwrap() as u64 >= deadline.unix_millis(), "fired before its deadline");
    assert_eq!(timer.arms(), 2, "the early wake armed once more");
    JsFuture::from(web_support::delay(200, &JsValue::NULL)).await.unwrap();
    assert_eq!(fires.get(), 1, "fired once");
}
