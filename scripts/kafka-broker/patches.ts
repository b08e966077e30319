/** The meterhouse patches to librdkafka's mock cluster, applied by scripts/kafka-broker-build.ts before it builds the test broker. */

export interface SourcePatch {
  file: string;
  why: string;
  find: string;
  replace: string;
}

/**
 * Exact-text patches to the stock mock cluster. Each `find` must occur exactly
 * once or the build fails loudly: a librdkafka upgrade must re-check them.
 */
export const PATCHES: readonly SourcePatch[] = [
  {
    file: 'src/rdkafka_mock.c',
    why: 'a mock partition silently drops its oldest batches past 5 MiB / 100k batches; keep (practically) everything',
    find: `        mpart->max_size = 1024 * 1024 * 5;
        mpart->max_cnt  = 100000;
`,
    replace: `        /* meterhouse patch: was 5 MiB / 100000 batches, after which the
         * oldest data was silently dropped. */
        mpart->max_size = (size_t)16 * 1024 * 1024 * 1024;
        mpart->max_cnt  = 100000000;
`,
  },
  {
    file: 'src/rdkafka_mock_cgrp.c',
    why: 'a classic group whose last member left (LeaveGroup or session timeout) stayed "Joining" for ~session.timeout, stalling the next consumer; make it Empty at once',
    find: `        int timeout_ms;

        if (mcgrp->state == RD_KAFKA_MOCK_CGRP_STATE_JOINING)
                return; /* Do nothing, group is already rebalancing. */
`,
    replace: `        int timeout_ms;

        /* meterhouse patch: with no members left the group is Empty, as on a
         * real broker, so the next member to join is not kept waiting for a
         * rebalance timer meant for members that are gone. */
        if (mcgrp->member_cnt == 0) {
                rd_kafka_timer_stop(&mcgrp->cluster->timers,
                                    &mcgrp->rebalance_tmr, rd_true);
                mcgrp->leader          = NULL;
                mcgrp->last_member_cnt = 0;
                rd_kafka_mock_cgrp_classic_set_state(
                    mcgrp, RD_KAFKA_MOCK_CGRP_STATE_EMPTY, reason);
                return;
        }

        if (mcgrp->state == RD_KAFKA_MOCK_CGRP_STATE_JOINING)
                return; /* Do nothing, group is already rebalancing. */
`,
  },
  {
    file: 'src/rdkafka_mock_cgrp.c',
    why: 'a rebalance of a non-empty group (member joined/left) always waited ~session.timeout, even after every member had rejoined; finish the join phase once all have, as a real broker does',
    find: `        member->conn = mconn;
        rd_kafka_mock_cgrp_classic_member_active(mcgrp, member);

        return RD_KAFKA_RESP_ERR_NO_ERROR;
}
`,
    replace: `        member->conn = mconn;
        rd_kafka_mock_cgrp_classic_member_active(mcgrp, member);

        /* meterhouse patch: once every member of a group that has had a
         * generation has (re)joined, elect without waiting out the
         * rebalance timer (session.timeout - 1 s). A group starting from
         * Empty keeps group.initial.rebalance.delay.ms. */
        if (mcgrp->state == RD_KAFKA_MOCK_CGRP_STATE_JOINING &&
            mcgrp->last_member_cnt > 0) {
                rd_kafka_mock_cgrp_classic_member_t *m;
                rd_bool_t all_joined = rd_true;
                TAILQ_FOREACH(m, &mcgrp->members, link) {
                        if (!m->resp) {
                                all_joined = rd_false;
                                break;
                        }
                }
                if (all_joined)
                        rd_kafka_mock_cgrp_classic_rebalance_timer_restart(
                            mcgrp, 100);
        }

        return RD_KAFKA_RESP_ERR_NO_ERROR;
}
`,
  },
];

export function applyPatches(original: Map<string, string>): Map<string, string> {
  const out = new Map(original);
  for (const p of PATCHES) {
    const text = out.get(p.file);
    if (text === undefined) throw new Error(`patch target missing: ${p.file}`);
    const count = text.split(p.find).length - 1;
    if (count !== 1) {
      throw new Error(
        `kafka-broker patch for ${p.file} (${p.why}) expected its anchor text exactly once, found it ${count} times: ` +
          `librdkafka changed, re-check PATCHES in scripts/kafka-broker/patches.ts`,
      );
    }
    const patched = text.replace(p.find, () => p.replace);
    if (patched === text || !patched.includes(p.replace)) throw new Error(`patch for ${p.file} did not apply`);
    out.set(p.file, patched);
  }
  return out;
}
