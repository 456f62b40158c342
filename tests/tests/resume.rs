//! Proto's batch pipeline starting items from where a journal saw them
//! ([`Resume`]) and stopped by an [`Interrupt`], over `authenta-reqwest`
//! and an in-process emulator: what each start costs is proto's decision.

use authenta_client::{BatchEvent, BatchItem, BatchSettings, Interrupt};
use authenta_proto::types::MediaStatus;
use authenta_proto::types::Timestamp;
use authenta_proto::{ProtocolError, engine::resume::Resume};
use authenta_tests::env::{ac1, fast_polls, png_request};
use authenta_tests::{Backend, Env, Reqwest};
use futures_util::StreamExt as _;

fn run(
    client: &Reqwest,
    items: Vec<BatchItem<usize>>,
    settings: BatchSettings,
) -> Vec<BatchEvent<usize>> {
    client.block_on(client.client().process_batch(items, settings).collect())
}

fn finished(
    events: Vec<BatchEvent<usize>>,
) -> Vec<(
    usize,
    Result<authenta_proto::types::Media, authenta_proto::Error>,
)> {
    let mut done: Vec<_> = events
        .into_iter()
        .filter_map(|e| match e {
            BatchEvent::Finished(k, result) => Some((k, result)),
            BatchEvent::Uploaded(..) => None,
        })
        .collect();
    done.sort_by_key(|(k, _)| *k);
    done
}

#[test]
fn a_creating_item_deletes_the_record_its_create_left_then_starts_anew() {
    let env = Env::new();
    let client: Reqwest = env.client();
    let path = env.png("left.png", 3000);
    let since = Timestamp::now();
    // What an interrupted create left: a record whose upload URL no one
    // kept. A record of another name is not touched.
    let orphan = client.create(png_request("left.png", 3000)).unwrap();
    let other = client.create(png_request("other.png", 3000)).unwrap();

    let item = BatchItem::new(0, path, ac1()).resume(Resume::Creating {
        name: "left.png".into(),
        since,
    });
    let done = finished(run(
        &client,
        vec![item],
        BatchSettings::new(2, fast_polls()),
    ));
    let media = done[0].1.as_ref().unwrap();
    assert_eq!(media.status, MediaStatus::Processed);
    assert_ne!(media.mid, orphan.media.mid);
    assert!(
        env.emu.record(orphan.media.mid.as_str()).is_none(),
        "the left-over record was deleted"
    );
    assert!(env.emu.record(other.media.mid.as_str()).is_some());
    assert_eq!(env.emu.records().len(), 2);
}

#[test]
fn a_final_item_costs_nothing_and_an_uploaded_one_is_only_waited_for() {
    let env = Env::new();
    let client: Reqwest = env.client();
    let uploaded = client.upload(&env.png("a.png", 3000), &ac1()).unwrap();
    let earlier = client.process(&env.png("b.png", 3001), &ac1()).unwrap();
    let (creates, puts) = (env.requests("POST", "/api/media").len(), env.puts().len());

    let items = vec![
        BatchItem::new(0, env.png("a.png", 3000), ac1()).resume(Resume::Uploaded {
            mid: uploaded.mid().clone(),
            created_at: Some(uploaded.created.media.created_at),
        }),
        BatchItem::new(1, env.png("b.png", 3001), ac1())
            .resume(Resume::Final(Box::new(earlier.clone()))),
    ];
    let gets_before = env.requests("GET", "/api/media").len();
    let done = finished(run(&client, items, BatchSettings::new(2, fast_polls())));
    assert_eq!(done[0].1.as_ref().unwrap().mid, *uploaded.mid());
    assert_eq!(done[0].1.as_ref().unwrap().status, MediaStatus::Processed);
    assert_eq!(done[1].1.as_ref().unwrap(), &earlier);
    // No create, no upload; only the waiting record was read.
    assert_eq!(env.requests("POST", "/api/media").len(), creates);
    assert_eq!(env.puts().len(), puts);
    let reads = env.requests("GET", "/api/media");
    assert!(reads.len() > gets_before);
    assert!(
        reads[gets_before..]
            .iter()
            .all(|r| !r.path.contains(earlier.mid.as_str())),
        "the final record was read again"
    );
}

#[test]
fn an_interrupted_batch_starts_nothing() {
    let env = Env::new();
    let client: Reqwest = env.client();
    let interrupt = Interrupt::new();
    interrupt.trigger();
    let items = (0..3)
        .map(|i| BatchItem::new(i, env.png(&format!("{i}.png"), 3000 + i), ac1()))
        .collect();
    let settings = BatchSettings::new(2, fast_polls()).interrupt(interrupt);
    let done = finished(run(&client, items, settings));
    assert_eq!(done.len(), 3);
    for (_, result) in done {
        let failure = result.unwrap_err();
        assert!(
            matches!(failure.as_proto(), Some(ProtocolError::Interrupted(i)) if i.mid.is_none()),
            "{failure:?}"
        );
    }
    assert!(env.emu.records().is_empty());
}
