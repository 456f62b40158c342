//! The conformance suite: every test in `cases` runs against
//! `authenta-ureq`, `authenta-reqwest` and proto's client over a
//! hand-written `TcpStream` HTTP client (`TcpClient`), each time with its
//! own in-process emulator on port 0.
//!
//! ```text
//! cargo test -p authenta-tests --test conformance
//! cargo test -p authenta-tests --test conformance ureq::   # one backend
//! ```

mod cases;

/// Instantiates every case for one backend as `mod $name { #[test] ... }`.
/// The list of cases is here once; their bodies are in `cases`, generic
/// over [`authenta_tests::Backend`].
macro_rules! conformance {
    ($name:ident, $backend:ty) => {
        mod $name {
            conformance!(@cases $backend;
                create_get_list_and_delete,
                upload_from_a_path_then_wait,
                process_then_read_the_result_and_the_heatmap,
                upload_from_a_reader_or_stream,
                upload_to_resumes_a_saved_target,
                an_upload_checkpoints_before_each_request_and_stops_when_saving_fails,
                uploads_have_a_length_and_no_credentials_api_requests_carry_both,
                iam001_for_a_wrong_secret_a_regenerated_secret_and_a_revoked_key,
                iam002_for_each_routes_permission_not_retried,
                aa001_at_exactly_the_quota_not_retried,
                u007_at_create_with_no_credits_not_retried,
                an_expired_upload_url_is_refused,
                a_wrong_content_type_is_signature_does_not_match,
                gets_are_retried_through_500_503_and_a_reset,
                a_500_after_create_is_not_retried_and_leaves_one_record,
                wait_times_out_with_status_time_and_polls,
                list_all_yields_every_record_once_across_pages,
                the_batch_waiter_reads_list_pages_with_full_or_summary_items,
                no_debug_or_message_shows_the_secret,
            );
        }
    };
    (@cases $backend:ty; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                crate::cases::$case::<$backend>();
            }
        )+
    };
}

conformance!(ureq, authenta_ureq::Client);
conformance!(reqwest, authenta_tests::Reqwest);
conformance!(tcp, authenta_tests::TcpClient);
