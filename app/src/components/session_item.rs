//! One signed-in device in a list: what it is, where, since when; the
//! caller adds the button that ends it.

use leptos::prelude::*;

use crate::components::time::utc;
use crate::model::SessionInfo;

#[component]
pub fn SessionItem(session: SessionInfo, children: Children) -> impl IntoView {
    view! {
        <li class="session" data-testid="session" data-current=session.current.to_string()>
            <div class="session-main">
                <p class="session-device">
                    {session.device}
                    {session.current.then(|| view! { <span class="badge badge-ok">"this device"</span> })}
                </p>
                <p class="session-meta muted">
                    {session.ip.map(|ip| format!("{ip} · "))}
                    "last active " {utc(session.last_used_at)}
                </p>
                <p class="session-meta muted">"Signed in " {utc(session.created_at)} " · until " {utc(session.expires_at)}</p>
            </div>
            {children()}
        </li>
    }
}
