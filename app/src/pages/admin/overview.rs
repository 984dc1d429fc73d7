//! The console's first page: the last 30 days at a glance, as charts the
//! server draws (see `components::chart`).

use leptos::prelude::*;
use leptos_meta::Title;

use super::{ConsoleCard, RequireAdmin};
use crate::components::chart::{count, BarChart, Series, Tone};
use crate::components::form::ErrorNote;
use crate::error::AppError;
use crate::overview::{DayCounts, Overview};
use crate::tr;

#[server(prefix = "/fn", endpoint = "admin_overview")]
pub async fn admin_overview() -> Result<Overview, AppError> {
    use crate::ssr::request;
    request::require_admin()?;
    Ok(request::services()?.admin().overview().await?)
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let overview = Resource::new_blocking(|| (), |_| admin_overview());
    view! {
        <Title text=tr!(admin_overview.title)/>
        <RequireAdmin admin=move |_| view! {
            <ConsoleCard heading=tr!(admin.overview)>
                <p class="muted">{tr!(admin_overview.intro)}</p>
                <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                    {move || Suspend::new(async move {
                        match overview.await {
                            Ok(overview) => view! { <Charts overview/> }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Suspense>
            </ConsoleCard>
        }/>
    }
}

#[component]
fn Charts(overview: Overview) -> impl IntoView {
    let days: Vec<i64> = overview.days.iter().map(|d| d.day).collect();
    let of = |label, tone, f: fn(&DayCounts) -> u64| Series {
        label,
        tone,
        values: overview.days.iter().map(f).collect(),
        summed: true,
    };
    let total = |f: fn(&DayCounts) -> u64| count(overview.days.iter().map(f).sum());
    let spikes: Vec<bool> = overview.days.iter().map(|d| d.failed_login_spike).collect();
    view! {
        <dl class="stats">
            <div>
                <dt>{tr!(admin_overview.accounts)}</dt>
                <dd>
                    {count(overview.accounts)}
                    {(overview.disabled_accounts > 0).then(|| view! {
                        " "<small>{tr!(admin_overview.disabled_note, count = count(overview.disabled_accounts))}</small>
                    })}
                </dd>
            </div>
            <div><dt>{tr!(admin_overview.sign_ups_30)}</dt><dd>{total(|d| d.sign_ups)}</dd></div>
            <div><dt>{tr!(admin_overview.logins_30)}</dt><dd>{total(|d| d.logins)}</dd></div>
            <div><dt>{tr!(admin_overview.failed_30)}</dt><dd>{total(|d| d.failed_logins)}</dd></div>
        </dl>
        <div class="charts">
            <BarChart
                id="accounts"
                title=tr!(admin_overview.chart_accounts)
                days=days.clone()
                series=vec![
                    of(tr!(admin_overview.sign_ups), Tone::Main, |d| d.sign_ups),
                    Series {
                        // The same people on many days: no total.
                        summed: false,
                        ..of(tr!(admin_overview.active_users), Tone::Other, |d| d.active_users)
                    },
                ]
            />
            <BarChart
                id="logins"
                title=tr!(admin_overview.chart_logins)
                days=days.clone()
                series=vec![
                    of(tr!(admin_overview.logins), Tone::Main, |d| d.logins),
                    of(tr!(admin_overview.failed), Tone::Bad, |d| d.failed_logins),
                    of(tr!(admin_overview.throttled), Tone::Warn, |d| d.throttled_logins),
                ]
                marked=spikes
                mark=tr!(admin_overview.spike)
            />
            <BarChart
                id="mail"
                title=tr!(admin_overview.chart_mail)
                days=days.clone()
                series=vec![
                    of(tr!(admin_overview.codes_sent), Tone::Main, |d| d.codes_sent),
                    of(tr!(admin_overview.mails_sent), Tone::Other, |d| d.mails_sent),
                    of(tr!(admin_overview.mails_failed), Tone::Bad, |d| d.mails_failed),
                ]
            />
            <BarChart
                id="webhooks"
                title=tr!(admin_overview.chart_webhooks)
                days=days
                series=vec![
                    of(tr!(admin_overview.delivered), Tone::Other, |d| d.webhooks_delivered),
                    of(tr!(admin_overview.failed), Tone::Bad, |d| d.webhooks_failed),
                ]
            />
        </div>
    }
}
