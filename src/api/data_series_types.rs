//! The wire shape of `GET /sends/data_series`, field for field as Braze's pages show it ("Send
//! analytics" for the day and `ios_push`, "Campaign analytics" for the other channels' fields),
//! and how a day's counts fill it. One entry under `messages`: the campaign's channel.
use poem_openapi::Object;

use crate::domain::DayCounts;

/// The answer of `GET /sends/data_series`.
#[derive(Debug, Object)]
pub struct DataSeriesSuccess {
    /// Always `success`.
    pub message: String,
    /// One entry per UTC day of the range, oldest first.
    pub data: Vec<DataSeriesDay>,
}

/// One UTC day of a send's analytics.
#[derive(Debug, Object)]
pub struct DataSeriesDay {
    /// The day, as an ISO 8601 date (`YYYY-MM-DD`).
    pub time: String,
    /// The day's statistics under the campaign's channel.
    pub messages: MessagesByChannel,
    pub conversions_by_send_time: u64,
    pub conversions1_by_send_time: u64,
    pub conversions2_by_send_time: u64,
    pub conversions3_by_send_time: u64,
    pub conversions: u64,
    pub conversions1: u64,
    pub conversions2: u64,
    pub conversions3: u64,
    /// Distinct recipients that day.
    pub unique_recipients: u64,
    /// Dollars of revenue (USD).
    pub revenue: f64,
}

/// Statistics by channel; only the campaign's channel is present.
#[derive(Debug, Default, Object)]
pub struct MessagesByChannel {
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<Vec<EmailStats>>,
    #[oai(skip_serializing_if_is_none)]
    pub ios_push: Option<Vec<IosPushStats>>,
    #[oai(skip_serializing_if_is_none)]
    pub android_push: Option<Vec<PushStats>>,
    #[oai(skip_serializing_if_is_none)]
    pub kindle_push: Option<Vec<PushStats>>,
    #[oai(skip_serializing_if_is_none)]
    pub web_push: Option<Vec<PushStats>>,
    #[oai(skip_serializing_if_is_none)]
    pub webhook: Option<Vec<WebhookStats>>,
    #[oai(skip_serializing_if_is_none)]
    pub sms: Option<Vec<SmsStats>>,
    #[oai(skip_serializing_if_is_none)]
    pub whats_app: Option<Vec<WhatsAppStats>>,
    #[oai(skip_serializing_if_is_none)]
    pub content_cards: Option<Vec<ContentCardStats>>,
    #[oai(skip_serializing_if_is_none)]
    pub in_app_message: Option<Vec<InAppMessageStats>>,
}

#[derive(Debug, Object)]
pub struct EmailStats {
    pub variation_api_id: String,
    pub sent: u64,
    pub opens: u64,
    pub unique_opens: u64,
    pub clicks: u64,
    pub unique_clicks: u64,
    pub unsubscribes: u64,
    pub bounces: u64,
    pub delivered: u64,
    pub reported_spam: u64,
}

/// `ios_push` as Braze's "Send analytics" page shows it.
#[derive(Debug, Object)]
pub struct IosPushStats {
    pub variation_name: String,
    pub sent: u64,
    pub delivered: u64,
    pub undelivered: u64,
    pub delivery_failed: u64,
    pub direct_opens: u64,
    pub total_opens: u64,
    pub bounces: u64,
    pub body_clicks: u64,
    pub revenue: f64,
    pub unique_recipients: u64,
    pub conversions: u64,
    pub conversions_by_send_time: u64,
    pub conversions1: u64,
    pub conversions1_by_send_time: u64,
    pub conversions2: u64,
    pub conversions2_by_send_time: u64,
    pub conversions3: u64,
    pub conversions3_by_send_time: u64,
}

/// `android_push`, `kindle_push`, `web_push` ("All push message types will have the same
/// statistics shown for android_push").
#[derive(Debug, Object)]
pub struct PushStats {
    pub variation_api_id: String,
    pub sent: u64,
    pub direct_opens: u64,
    pub total_opens: u64,
    pub bounces: u64,
    pub body_clicks: u64,
}

#[derive(Debug, Object)]
pub struct WebhookStats {
    pub variation_api_id: String,
    pub sent: u64,
    pub errors: u64,
}

#[derive(Debug, Object)]
pub struct SmsStats {
    pub variation_api_id: String,
    pub sent: u64,
    pub sent_to_carrier: u64,
    pub delivered: u64,
    pub rejected: u64,
    pub delivery_failed: u64,
    pub clicks: u64,
    pub opt_out: u64,
    pub help: u64,
}

#[derive(Debug, Object)]
pub struct WhatsAppStats {
    pub variation_api_id: String,
    pub sent: u64,
    pub delivered: u64,
    pub failed: u64,
    pub read: u64,
}

#[derive(Debug, Object)]
pub struct ContentCardStats {
    pub variation_api_id: String,
    pub sent: u64,
    pub total_clicks: u64,
    pub total_dismissals: u64,
    pub total_impressions: u64,
    pub unique_clicks: u64,
    pub unique_dismissals: u64,
    pub unique_impressions: u64,
}

#[derive(Debug, Object)]
pub struct InAppMessageStats {
    pub variation_api_id: String,
    pub impressions: u64,
    pub clicks: u64,
    pub first_button_clicks: u64,
    pub second_button_clicks: u64,
}

/// A campaign's one variation (sendid has no variants): its API id and name.
pub fn variation_api_id(campaign_id: &str) -> String {
    format!("{campaign_id}-variation-1")
}
pub const VARIATION_NAME: &str = "Variation 1";

/// The day's counts under `channel` (a name from `domain::series::CHANNELS`). sendid's counts
/// are sent, delivered, opens, clicks, bounces, conversions and revenue; each channel's fields
/// take the one that means the same (opens are also unique opens and impressions, bounces also
/// errors and failures), the rest are 0.
pub fn messages(channel: &str, campaign_id: &str, c: &DayCounts) -> MessagesByChannel {
    let id = variation_api_id(campaign_id);
    let push = || {
        Some(vec![PushStats {
            variation_api_id: id.clone(),
            sent: c.sent,
            direct_opens: c.opens,
            total_opens: c.opens,
            bounces: c.bounces,
            body_clicks: c.clicks,
        }])
    };
    let mut m = MessagesByChannel::default();
    match channel {
        "ios_push" => {
            m.ios_push = Some(vec![IosPushStats {
                variation_name: VARIATION_NAME.into(),
                sent: c.sent,
                delivered: c.delivered,
                undelivered: 0,
                delivery_failed: 0,
                direct_opens: c.opens,
                total_opens: c.opens,
                bounces: c.bounces,
                body_clicks: c.clicks,
                revenue: c.revenue,
                unique_recipients: c.unique_recipients,
                conversions: c.conversions,
                conversions_by_send_time: c.conversions,
                conversions1: 0,
                conversions1_by_send_time: 0,
                conversions2: 0,
                conversions2_by_send_time: 0,
                conversions3: 0,
                conversions3_by_send_time: 0,
            }])
        }
        "android_push" => m.android_push = push(),
        "kindle_push" => m.kindle_push = push(),
        "web_push" => m.web_push = push(),
        "webhook" => {
            m.webhook = Some(vec![WebhookStats {
                variation_api_id: id,
                sent: c.sent,
                errors: c.bounces,
            }])
        }
        "sms" => {
            m.sms = Some(vec![SmsStats {
                variation_api_id: id,
                sent: c.sent,
                sent_to_carrier: c.sent,
                delivered: c.delivered,
                rejected: 0,
                delivery_failed: c.bounces,
                clicks: c.clicks,
                opt_out: 0,
                help: 0,
            }])
        }
        "whats_app" => {
            m.whats_app = Some(vec![WhatsAppStats {
                variation_api_id: id,
                sent: c.sent,
                delivered: c.delivered,
                failed: c.bounces,
                read: c.opens,
            }])
        }
        "content_cards" => {
            m.content_cards = Some(vec![ContentCardStats {
                variation_api_id: id,
                sent: c.sent,
                total_clicks: c.clicks,
                total_dismissals: 0,
                total_impressions: c.opens,
                unique_clicks: c.clicks,
                unique_dismissals: 0,
                unique_impressions: c.opens,
            }])
        }
        "in_app_message" => {
            m.in_app_message = Some(vec![InAppMessageStats {
                variation_api_id: id,
                impressions: c.opens,
                clicks: c.clicks,
                first_button_clicks: 0,
                second_button_clicks: 0,
            }])
        }
        _ => {
            m.email = Some(vec![EmailStats {
                variation_api_id: id,
                sent: c.sent,
                opens: c.opens,
                unique_opens: c.opens,
                clicks: c.clicks,
                unique_clicks: c.clicks,
                unsubscribes: 0,
                bounces: c.bounces,
                delivered: c.delivered,
                reported_spam: 0,
            }])
        }
    }
    m
}

/// One day of the answer.
pub fn day(channel: &str, campaign_id: &str, c: &DayCounts) -> DataSeriesDay {
    DataSeriesDay {
        time: c
            .day
            .map(crate::domain::series::date_of)
            .unwrap_or_default(),
        messages: messages(channel, campaign_id, c),
        conversions_by_send_time: c.conversions,
        conversions1_by_send_time: 0,
        conversions2_by_send_time: 0,
        conversions3_by_send_time: 0,
        conversions: c.conversions,
        conversions1: 0,
        conversions2: 0,
        conversions3: 0,
        unique_recipients: c.unique_recipients,
        revenue: c.revenue,
    }
}
