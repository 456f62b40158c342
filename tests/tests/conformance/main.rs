//! The conformance suite: every test in `cases` runs against
//! `authenta-ureq`, `authenta-reqwest` and proto's client over a
//! hand-written `TcpStream` HTTP client (`TcpClient`), each time with its
//! own in-process emulator on port 0, and with each kind of credentials
//! the case applies to: an API key (`Authorization: Bearer`, answered as
//! generation 2) and a client id and secret (`x-client-*`, generation 1).
//!
//! ```text
//! cargo test -p authenta-tests --test conformance
//! cargo test -p authenta-tests --test conformance ureq::   # one backend
//! cargo test -p authenta-tests --test conformance api_key::   # one kind
//! ```

mod cases;

/// Instantiates every case for one backend as
/// `mod $name { mod api_key { #[test] ... } mod client_secret { ... } }`.
/// The lists of cases are here once; their bodies are in `cases`, generic
/// over [`authenta_tests::Backend`], reading the kind from their `Env`.
macro_rules! conformance {
    ($name:ident, $backend:ty) => {
        mod $name {
            mod api_key {
                conformance!(@both $backend, ApiKey);
                conformance!(@cases $backend, ApiKey;
                    invalid_api_key_for_a_wrong_a_regenerated_and_a_revoked_key,
                    an_api_key_spends_no_quota_and_counts_its_calls,
                    a_refused_api_key_is_read_again_once_and_resent_only_when_it_changed,
                    every_task_type_runs_to_a_final_job,
                    a_face_intelligence_job_uploads_its_reference_slot,
                    a_refused_slot_upload_never_finalizes,
                    a_finalize_whose_answer_is_lost_is_read_before_any_resend,
                    cancelled_and_failed_end_the_wait_at_once,
                    the_wait_is_bounded_by_the_task_types_limit,
                    the_created_jobs_id_is_read_from_either_shape,
                    many_jobs_are_waited_for_with_the_list,
                );
            }
            mod client_secret {
                conformance!(@both $backend, ClientSecret);
                conformance!(@cases $backend, ClientSecret;
                    iam001_for_a_wrong_secret_a_regenerated_secret_and_a_revoked_key,
                    aa001_at_exactly_the_quota_not_retried,
                );
            }
        }
    };
    (@both $backend:ty, $kind:ident) => {
        conformance!(@cases $backend, $kind;
            create_get_list_and_delete,
            upload_from_a_path_then_wait,
            process_then_read_the_result_and_the_heatmap,
            upload_from_a_reader_or_stream,
            upload_to_resumes_a_saved_target,
            an_upload_checkpoints_before_each_request_and_stops_when_saving_fails,
            uploads_carry_no_credentials_and_api_requests_only_their_kinds,
            a_missing_permission_is_refused_for_each_route_not_retried,
            no_credits_is_refused_at_create_and_never_retried,
            each_current_error_body_parses_into_its_class,
            an_expired_upload_url_is_refused,
            a_wrong_content_type_is_signature_does_not_match,
            gets_are_retried_through_500_503_and_a_reset,
            a_500_after_create_is_not_retried_and_leaves_one_record,
            wait_times_out_with_status_time_and_polls,
            list_all_yields_every_record_once_across_pages,
            the_batch_waiter_reads_list_pages_with_full_or_summary_items,
            no_debug_or_message_shows_the_secret,
        );
    };
    (@cases $backend:ty, $kind:ident; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                authenta_tests::env::with_kind(
                    authenta_proto::credentials::CredentialKind::$kind,
                    crate::cases::$case::<$backend>,
                );
            }
        )+
    };
}

conformance!(ureq, authenta_ureq::Client);
conformance!(reqwest, authenta_tests::Reqwest);
conformance!(tcp, authenta_tests::TcpClient);
