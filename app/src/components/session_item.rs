//! One signed-in device in a list: what it is, where, since when; the
//! caller adds the button that ends it.

use leptos::prelude::*;

use crate::components::time::utc;
use crate::model::SessionInfo;
use crate::tr;

#[component]
pub fn SessionItem(session: SessionInfo, children: Children) -> impl IntoView {
    let SessionInfo {
        device,
        ip,
        created_at,
        last_used_at,
        expires_at,
        current,
        ..
    } = session;
    let locale = crate::locale::current();
    let device = device.unwrap_or_else(|| tr!(common.unknown_device).to_owned());
    view! {
        <li class="session" data-testid="session" data-current=current.to_string()>
            <div class="session-main">
                <p class="session-device">
                    {device}
                    {current.then(|| view! { <span class="badge badge-ok">{tr!(common.this_device)}</span> })}
                </p>
                <p class="session-meta muted">
                    {ip.map(|ip| format!("{ip} · "))}
                    {tr!(sessions.last_active, time = utc(last_used_at, locale))}
                </p>
                <p class="session-meta muted">
                    {tr!(sessions.signed_in, start = utc(created_at, locale), end = utc(expires_at, locale))}
                </p>
            </div>
            {children()}
        </li>
    }
}
