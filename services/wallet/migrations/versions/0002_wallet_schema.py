"""The wallet schema: ledger accounts, immutable hash-chained transfers, holds, the ledger function.

* Tables and named constraints mirror ``services/wallet/store/models.py`` (``alembic check``).
* ``wallet.apply_transfers`` is the only way money moves: one call per transfer or per batch
  locks every account of the call ``FOR UPDATE`` in ascending id order, evaluates each transfer
  TigerBeetle style (idempotency by id, linked chains all-or-nothing, two-phase resolution,
  balance limits), then chains, inserts and updates the counters, in one round trip.
* ``wallet.transfer_hash`` is the canonical hash (``services/wallet/domain/chain.py`` is its
  twin in Python, used by VerifyLedger).
* Triggers: transfers are append-only (no UPDATE, DELETE or TRUNCATE, whoever asks); an account's
  identity never changes, it starts empty and is never deleted; a hold leaves ``pending`` once.
* Grants: the runtime role may SELECT and INSERT transfers and nothing else on them; on accounts
  it may UPDATE only the counters and chain columns; on holds only the settlement columns.
* The system accounts (mint, treasury, bounty escrow, provider revenue, key-budget source) are
  created here, once, so replicas never race to create them.

Revision ID: wallet_0002
Revises: wallet_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.common.migrations import grant_runtime, runtime_role

revision = "wallet_0002"
down_revision = "wallet_0001"
branch_labels = None
depends_on = None

SCHEMA = "wallet"

ACCOUNT_MUTABLE_COLUMNS = (
    "debits_pending",
    "debits_posted",
    "credits_pending",
    "credits_posted",
    "limit_micros",
    "chain_head",
    "transfer_count",
    "updated_at",
)
HOLD_MUTABLE_COLUMNS = (
    "status",
    "resolved_at",
    "posted_micros",
    "overage_micros",
    "shortfall_micros",
    "post_transfer_id",
    "void_transfer_id",
    "updated_at",
)
SYSTEM_ACCOUNTS = (
    # kind, ledger, debits_must_not_exceed_credits, credits_must_not_exceed_debits
    ("mint", 1, False, True),
    ("treasury", 1, True, False),
    ("bounty_escrow", 1, True, False),
    ("provider_revenue", 1, False, False),
    ("key_budget_source", 2, False, False),
)

TRANSFER_HASH = r"""
CREATE FUNCTION wallet.transfer_hash(
    p_id uuid, p_sequence bigint, p_debit_account_id uuid, p_credit_account_id uuid,
    p_amount bigint, p_ledger smallint, p_code smallint, p_flags smallint, p_pending_id uuid,
    p_timeout_s integer, p_expires_at timestamptz, p_reference text, p_memo text,
    p_initiator_kind text, p_initiator_subject text, p_initiator_agent_id uuid,
    p_initiator_account_id uuid, p_initiator_key_id uuid, p_initiator_peer text,
    p_initiator_request_id text, p_created_at timestamptz, p_debit_previous_hash bytea,
    p_credit_previous_hash bytea
) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
RETURN pg_catalog.sha256(
    '\x746d2d7472616e736665722d7631'::bytea  -- 'tm-transfer-v1'
    || pg_catalog.uuid_send(p_id)
    || pg_catalog.int8send(p_sequence)
    || pg_catalog.uuid_send(p_debit_account_id)
    || pg_catalog.uuid_send(p_credit_account_id)
    || pg_catalog.int8send(p_amount)
    || pg_catalog.int2send(p_ledger)
    || pg_catalog.int2send(p_code)
    || pg_catalog.int2send(p_flags)
    || CASE WHEN p_pending_id IS NULL THEN '\x00'::bytea
            ELSE '\x01'::bytea || pg_catalog.uuid_send(p_pending_id) END
    || pg_catalog.int4send(p_timeout_s)
    || CASE WHEN p_expires_at IS NULL THEN '\x00'::bytea
            ELSE '\x01'::bytea || pg_catalog.int8send(
                (EXTRACT(epoch FROM p_expires_at) * 1000000)::bigint)
       END
    || wallet.hash_text(p_reference)
    || wallet.hash_text(p_memo)
    || wallet.hash_text(p_initiator_kind)
    || wallet.hash_text(p_initiator_subject)
    || CASE WHEN p_initiator_agent_id IS NULL THEN '\x00'::bytea
            ELSE '\x01'::bytea || pg_catalog.uuid_send(p_initiator_agent_id) END
    || CASE WHEN p_initiator_account_id IS NULL THEN '\x00'::bytea
            ELSE '\x01'::bytea || pg_catalog.uuid_send(p_initiator_account_id) END
    || CASE WHEN p_initiator_key_id IS NULL THEN '\x00'::bytea
            ELSE '\x01'::bytea || pg_catalog.uuid_send(p_initiator_key_id) END
    || wallet.hash_text(p_initiator_peer)
    || wallet.hash_text(p_initiator_request_id)
    || pg_catalog.int8send((EXTRACT(epoch FROM p_created_at) * 1000000)::bigint)
    || CASE WHEN p_debit_previous_hash IS NULL THEN '\x00'::bytea
            ELSE '\x01'::bytea || p_debit_previous_hash END
    || CASE WHEN p_credit_previous_hash IS NULL THEN '\x00'::bytea
            ELSE '\x01'::bytea || p_credit_previous_hash END
)
"""

HASH_TEXT = r"""
CREATE FUNCTION wallet.hash_text(p_value text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(p_value, 'UTF8')))
    || pg_catalog.convert_to(p_value, 'UTF8')
"""

# Result numbers are the proto's CreateTransferResult values (1..29) and, from 100, the internal
# results of resolving pending transfers (services/wallet/domain/results.py).
APPLY_TRANSFERS = r"""
CREATE FUNCTION wallet.apply_transfers(
    p_ids uuid[], p_debit_ids uuid[], p_credit_ids uuid[], p_amounts bigint[],
    p_codes smallint[], p_flags smallint[], p_pending_ids uuid[], p_timeouts integer[],
    p_references text[], p_memos text[], p_rejections smallint[], p_denials smallint[],
    p_now timestamptz, p_initiator_kind text, p_initiator_subject text,
    p_initiator_agent_id uuid, p_initiator_account_id uuid, p_initiator_key_id uuid,
    p_initiator_peer text, p_initiator_request_id text
) RETURNS TABLE (
    o_index integer, o_result smallint, o_id uuid, o_sequence bigint,
    o_debit_account_id uuid, o_credit_account_id uuid, o_amount bigint, o_ledger smallint,
    o_code smallint, o_flags smallint, o_pending_id uuid, o_timeout_s integer,
    o_expires_at timestamptz, o_reference text, o_memo text, o_initiator_kind text,
    o_initiator_subject text, o_initiator_agent_id uuid, o_initiator_account_id uuid,
    o_initiator_key_id uuid, o_initiator_peer text, o_initiator_request_id text,
    o_debit_previous_hash bytea, o_credit_previous_hash bytea, o_hash bytea,
    o_created_at timestamptz, o_debit_available bigint, o_credit_available bigint
)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $apply$
DECLARE
    n constant integer := coalesce(cardinality(p_ids), 0);
    -- Every account of the call, locked, in id order, with its working values.
    a_ids uuid[]; a_kind text[]; a_ledger smallint[];
    a_dmnec boolean[]; a_cmned boolean[];
    a_dp bigint[]; a_dpo bigint[]; a_cp bigint[]; a_cpo bigint[]; a_limit bigint[];
    a_head bytea[]; a_count bigint[]; a_dirty boolean[];
    -- The working values when the current linked chain started.
    s_dp bigint[]; s_dpo bigint[]; s_cp bigint[]; s_cpo bigint[]; s_limit bigint[];
    s_dirty boolean[]; s_resolved integer;
    -- Transfers that already carry one of the ids; pending transfers being resolved and their
    -- committed resolutions; resolutions made earlier in this call.
    e_ids uuid[]; e_rows wallet.transfers[];
    q_ids uuid[]; q_rows wallet.transfers[];
    r_ids uuid[]; r_flags smallint[];
    b_ids uuid[] := '{}'; b_flags smallint[] := '{}';
    v_results smallint[]; v_debit integer[]; v_credit integer[];
    v_chain_start integer; v_chain_failed boolean := false;
    i integer; k integer; d integer; c integer;
    v_result smallint; v_phase integer; v_amount bigint;
    v_pending wallet.transfers; v_existing wallet.transfers;
    v_sequence bigint; v_hash bytea; v_expires timestamptz;
    -- The accepted transfers, written with one INSERT.
    w_ids uuid[] := '{}'; w_sequences bigint[] := '{}'; w_debits uuid[] := '{}';
    w_credits uuid[] := '{}'; w_amounts bigint[] := '{}'; w_ledgers smallint[] := '{}';
    w_codes smallint[] := '{}'; w_flags smallint[] := '{}'; w_pending_ids uuid[] := '{}';
    w_timeouts integer[] := '{}'; w_expires timestamptz[] := '{}'; w_references text[] := '{}';
    w_memos text[] := '{}'; w_debit_previous bytea[] := '{}'; w_credit_previous bytea[] := '{}';
    w_hashes bytea[] := '{}';
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    IF cardinality(p_debit_ids) <> n OR cardinality(p_credit_ids) <> n
            OR cardinality(p_amounts) <> n OR cardinality(p_codes) <> n
            OR cardinality(p_flags) <> n OR cardinality(p_pending_ids) <> n
            OR cardinality(p_timeouts) <> n OR cardinality(p_references) <> n
            OR cardinality(p_memos) <> n OR cardinality(p_rejections) <> n
            OR cardinality(p_denials) <> n OR p_now IS NULL THEN
        RAISE EXCEPTION 'apply_transfers: malformed call' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- 1. Lock every account of the call in one fixed order (ascending id): concurrent calls
    --    queue instead of deadlocking, and every check below sees the latest committed counters.
    SELECT array_agg(l.id ORDER BY l.id), array_agg(l.kind ORDER BY l.id),
           array_agg(l.ledger ORDER BY l.id),
           array_agg(l.debits_must_not_exceed_credits ORDER BY l.id),
           array_agg(l.credits_must_not_exceed_debits ORDER BY l.id),
           array_agg(l.debits_pending ORDER BY l.id), array_agg(l.debits_posted ORDER BY l.id),
           array_agg(l.credits_pending ORDER BY l.id), array_agg(l.credits_posted ORDER BY l.id),
           array_agg(l.limit_micros ORDER BY l.id), array_agg(l.chain_head ORDER BY l.id),
           array_agg(l.transfer_count ORDER BY l.id), array_agg(false)
      INTO a_ids, a_kind, a_ledger, a_dmnec, a_cmned, a_dp, a_dpo, a_cp, a_cpo, a_limit,
           a_head, a_count, a_dirty
      FROM (SELECT * FROM wallet.ledger_accounts
             WHERE id = ANY (p_debit_ids || p_credit_ids)
             ORDER BY id
               FOR UPDATE) l;

    -- 2. What exists already (read after the locks, so a racing writer has committed).
    SELECT array_agg(t.id), array_agg(t) INTO e_ids, e_rows
      FROM wallet.transfers t WHERE t.id = ANY (p_ids);
    IF EXISTS (SELECT 1 FROM unnest(p_flags) f WHERE (f & 12) <> 0) THEN
        SELECT array_agg(t.id), array_agg(t) INTO q_ids, q_rows
          FROM wallet.transfers t WHERE t.id = ANY (p_pending_ids);
        SELECT array_agg(t.pending_id), array_agg(t.flags) INTO r_ids, r_flags
          FROM wallet.transfers t WHERE t.pending_id = ANY (p_pending_ids);
    END IF;

    -- 3. Evaluate in order on the working values; a failed linked chain is rolled back to its
    --    snapshot and every other member of it reports LINKED_EVENT_FAILED.
    v_results := array_fill(0::smallint, ARRAY[n]);
    v_debit := array_fill(NULL::integer, ARRAY[n]);
    v_credit := array_fill(NULL::integer, ARRAY[n]);
    FOR i IN 1..n LOOP
        IF v_chain_start IS NULL AND (p_flags[i] & 1) <> 0 THEN
            v_chain_start := i;
            v_chain_failed := false;
            s_dp := a_dp; s_dpo := a_dpo; s_cp := a_cp; s_cpo := a_cpo; s_limit := a_limit;
            s_dirty := a_dirty; s_resolved := cardinality(b_ids);
        END IF;

        <<evaluate>>
        BEGIN
            IF v_chain_failed THEN
                v_result := 3;  -- LINKED_EVENT_FAILED
                EXIT evaluate;
            END IF;
            v_result := p_rejections[i];
            EXIT evaluate WHEN v_result <> 0;
            k := array_position(e_ids, p_ids[i]);
            IF k IS NOT NULL THEN
                v_existing := e_rows[k];
                v_result := CASE
                    WHEN v_existing.initiator_subject <> p_initiator_subject
                      OR v_existing.initiator_agent_id IS DISTINCT FROM p_initiator_agent_id
                        THEN 11
                    WHEN v_existing.debit_account_id IS DISTINCT FROM p_debit_ids[i] THEN 12
                    WHEN v_existing.credit_account_id IS DISTINCT FROM p_credit_ids[i] THEN 13
                    WHEN v_existing.amount <> p_amounts[i] THEN 14
                    WHEN v_existing.code <> p_codes[i] THEN 15
                    WHEN v_existing.flags <> p_flags[i] THEN 16
                    WHEN v_existing.pending_id IS DISTINCT FROM p_pending_ids[i] THEN 28
                    WHEN v_existing.timeout_s <> p_timeouts[i] THEN 29
                    WHEN v_existing.reference <> p_references[i] THEN 17
                    WHEN v_existing.memo <> p_memos[i] THEN 18
                    ELSE 2  -- EXISTS
                END;
                EXIT evaluate;
            END IF;
            d := array_position(a_ids, p_debit_ids[i]);
            c := array_position(a_ids, p_credit_ids[i]);
            IF d IS NULL THEN v_result := 19; EXIT evaluate; END IF;
            IF c IS NULL THEN v_result := 20; EXIT evaluate; END IF;
            IF d = c THEN v_result := 21; EXIT evaluate; END IF;
            IF a_ledger[d] <> a_ledger[c] THEN v_result := 22; EXIT evaluate; END IF;
            v_result := p_denials[i];
            EXIT evaluate WHEN v_result <> 0;
            v_amount := p_amounts[i];
            v_phase := p_flags[i] & 14;
            IF v_phase IN (4, 8) THEN
                k := array_position(q_ids, p_pending_ids[i]);
                IF k IS NULL THEN v_result := 100; EXIT evaluate; END IF;
                v_pending := q_rows[k];
                IF (v_pending.flags & 2) = 0 THEN v_result := 101; EXIT evaluate; END IF;
                IF v_pending.debit_account_id <> p_debit_ids[i]
                        OR v_pending.credit_account_id <> p_credit_ids[i] THEN
                    v_result := 105; EXIT evaluate;
                END IF;
                k := coalesce(array_position(r_ids, v_pending.id), 0);
                IF k > 0 THEN
                    v_result := CASE WHEN (r_flags[k] & 4) <> 0 THEN 102 ELSE 103 END;
                    EXIT evaluate;
                END IF;
                k := coalesce(array_position(b_ids, v_pending.id), 0);
                IF k > 0 THEN
                    v_result := CASE WHEN (b_flags[k] & 4) <> 0 THEN 102 ELSE 103 END;
                    EXIT evaluate;
                END IF;
                IF v_phase = 4 THEN
                    -- Timeouts follow the service's clock, never a late post.
                    IF p_now >= v_pending.expires_at THEN v_result := 104; EXIT evaluate; END IF;
                    IF v_amount > v_pending.amount THEN v_result := 106; EXIT evaluate; END IF;
                ELSIF v_amount <> v_pending.amount THEN
                    v_result := 107; EXIT evaluate;
                END IF;
                -- The whole pending amount leaves pending; a post books its (partial) amount.
                a_dp[d] := a_dp[d] - v_pending.amount;
                a_cp[c] := a_cp[c] - v_pending.amount;
                IF v_phase = 4 THEN
                    a_dpo[d] := a_dpo[d] + v_amount;
                    a_cpo[c] := a_cpo[c] + v_amount;
                END IF;
                b_ids := b_ids || v_pending.id;
                b_flags := b_flags || p_flags[i];
            ELSE
                IF a_dmnec[d] AND a_dp[d] + a_dpo[d] + v_amount > a_cpo[d] THEN
                    v_result := 26; EXIT evaluate;  -- INSUFFICIENT_FUNDS
                END IF;
                IF a_cmned[c] AND a_cp[c] + a_cpo[c] + v_amount > a_dpo[c] THEN
                    v_result := 27; EXIT evaluate;  -- EXCEEDS_DEBITS
                END IF;
                IF v_phase = 2 THEN
                    a_dp[d] := a_dp[d] + v_amount;
                    a_cp[c] := a_cp[c] + v_amount;
                ELSE
                    a_dpo[d] := a_dpo[d] + v_amount;
                    a_cpo[c] := a_cpo[c] + v_amount;
                    IF p_codes[i] = 10 THEN  -- KEY_BUDGET_ALLOCATION moves a key's limit
                        IF a_kind[c] = 'key_budget' THEN
                            a_limit[c] := a_limit[c] + v_amount;
                        END IF;
                        IF a_kind[d] = 'key_budget' THEN
                            a_limit[d] := a_limit[d] - v_amount;
                        END IF;
                    END IF;
                END IF;
            END IF;
            a_dirty[d] := true;
            a_dirty[c] := true;
            v_debit[i] := d;
            v_credit[i] := c;
            v_result := 1;  -- OK
        END;

        v_results[i] := v_result;
        IF v_chain_start IS NOT NULL THEN
            IF v_result NOT IN (1, 2) AND NOT v_chain_failed THEN
                v_chain_failed := true;
                a_dp := s_dp; a_dpo := s_dpo; a_cp := s_cp; a_cpo := s_cpo; a_limit := s_limit;
                a_dirty := s_dirty;
                b_ids := b_ids[1:s_resolved]; b_flags := b_flags[1:s_resolved];
            END IF;
            IF (p_flags[i] & 1) = 0 OR i = n THEN
                IF (p_flags[i] & 1) <> 0 THEN
                    v_results[i] := 4;  -- LINKED_EVENT_CHAIN_OPEN
                    IF NOT v_chain_failed THEN
                        v_chain_failed := true;
                        a_dp := s_dp; a_dpo := s_dpo; a_cp := s_cp; a_cpo := s_cpo;
                        a_limit := s_limit; a_dirty := s_dirty;
                        b_ids := b_ids[1:s_resolved]; b_flags := b_flags[1:s_resolved];
                    END IF;
                END IF;
                IF v_chain_failed THEN
                    FOR k IN v_chain_start..i LOOP
                        IF v_results[k] = 1 THEN v_results[k] := 3; END IF;
                    END LOOP;
                END IF;
                v_chain_start := NULL;
                v_chain_failed := false;
            END IF;
        END IF;
    END LOOP;

    -- 4. Chain what was accepted, in order: each transfer takes the next sequence number and
    --    extends the chains of both its accounts. Then write the transfers in one INSERT and
    --    the counters in one UPDATE (once per account).
    FOR i IN 1..n LOOP
        o_index := i - 1;
        o_result := v_results[i];
        IF o_result = 1 THEN
            d := v_debit[i];
            c := v_credit[i];
            v_sequence := nextval('wallet.transfer_sequence');
            v_expires := CASE WHEN (p_flags[i] & 2) <> 0
                              THEN p_now + make_interval(secs => p_timeouts[i]) END;
            v_hash := wallet.transfer_hash(
                p_ids[i], v_sequence, p_debit_ids[i], p_credit_ids[i], p_amounts[i], a_ledger[d],
                p_codes[i], p_flags[i], p_pending_ids[i], p_timeouts[i], v_expires,
                p_references[i], p_memos[i], p_initiator_kind, p_initiator_subject,
                p_initiator_agent_id, p_initiator_account_id, p_initiator_key_id,
                p_initiator_peer, p_initiator_request_id, p_now, a_head[d], a_head[c]);
            w_ids := w_ids || p_ids[i]; w_sequences := w_sequences || v_sequence;
            w_debits := w_debits || p_debit_ids[i]; w_credits := w_credits || p_credit_ids[i];
            w_amounts := w_amounts || p_amounts[i]; w_ledgers := w_ledgers || a_ledger[d];
            w_codes := w_codes || p_codes[i]; w_flags := w_flags || p_flags[i];
            w_pending_ids := w_pending_ids || p_pending_ids[i];
            w_timeouts := w_timeouts || p_timeouts[i]; w_expires := w_expires || v_expires;
            w_references := w_references || p_references[i]; w_memos := w_memos || p_memos[i];
            w_debit_previous := w_debit_previous || a_head[d];
            w_credit_previous := w_credit_previous || a_head[c];
            w_hashes := w_hashes || v_hash;
            o_id := p_ids[i]; o_sequence := v_sequence;
            o_debit_account_id := p_debit_ids[i]; o_credit_account_id := p_credit_ids[i];
            o_amount := p_amounts[i]; o_ledger := a_ledger[d]; o_code := p_codes[i];
            o_flags := p_flags[i]; o_pending_id := p_pending_ids[i];
            o_timeout_s := p_timeouts[i]; o_expires_at := v_expires;
            o_reference := p_references[i]; o_memo := p_memos[i];
            o_initiator_kind := p_initiator_kind; o_initiator_subject := p_initiator_subject;
            o_initiator_agent_id := p_initiator_agent_id;
            o_initiator_account_id := p_initiator_account_id;
            o_initiator_key_id := p_initiator_key_id; o_initiator_peer := p_initiator_peer;
            o_initiator_request_id := p_initiator_request_id;
            o_debit_previous_hash := a_head[d]; o_credit_previous_hash := a_head[c];
            o_hash := v_hash; o_created_at := p_now;
            a_head[d] := v_hash;
            a_head[c] := v_hash;
            a_count[d] := a_count[d] + 1;
            a_count[c] := a_count[c] + 1;
        ELSIF o_result = 2 THEN
            v_existing := e_rows[array_position(e_ids, p_ids[i])];
            d := array_position(a_ids, v_existing.debit_account_id);
            c := array_position(a_ids, v_existing.credit_account_id);
            o_id := v_existing.id; o_sequence := v_existing.sequence;
            o_debit_account_id := v_existing.debit_account_id;
            o_credit_account_id := v_existing.credit_account_id;
            o_amount := v_existing.amount; o_ledger := v_existing.ledger;
            o_code := v_existing.code; o_flags := v_existing.flags;
            o_pending_id := v_existing.pending_id; o_timeout_s := v_existing.timeout_s;
            o_expires_at := v_existing.expires_at; o_reference := v_existing.reference;
            o_memo := v_existing.memo; o_initiator_kind := v_existing.initiator_kind;
            o_initiator_subject := v_existing.initiator_subject;
            o_initiator_agent_id := v_existing.initiator_agent_id;
            o_initiator_account_id := v_existing.initiator_account_id;
            o_initiator_key_id := v_existing.initiator_key_id;
            o_initiator_peer := v_existing.initiator_peer;
            o_initiator_request_id := v_existing.initiator_request_id;
            o_debit_previous_hash := v_existing.debit_previous_hash;
            o_credit_previous_hash := v_existing.credit_previous_hash;
            o_hash := v_existing.hash; o_created_at := v_existing.created_at;
        ELSE
            d := NULL; c := NULL;
            o_id := NULL; o_sequence := NULL; o_debit_account_id := NULL;
            o_credit_account_id := NULL; o_amount := NULL; o_ledger := NULL; o_code := NULL;
            o_flags := NULL; o_pending_id := NULL; o_timeout_s := NULL; o_expires_at := NULL;
            o_reference := NULL; o_memo := NULL; o_initiator_kind := NULL;
            o_initiator_subject := NULL; o_initiator_agent_id := NULL;
            o_initiator_account_id := NULL; o_initiator_key_id := NULL; o_initiator_peer := NULL;
            o_initiator_request_id := NULL; o_debit_previous_hash := NULL;
            o_credit_previous_hash := NULL; o_hash := NULL; o_created_at := NULL;
        END IF;
        -- Counters are final after step 3: report what each side can spend after the call.
        o_debit_available := CASE WHEN d IS NOT NULL THEN a_cpo[d] - a_dpo[d] - a_dp[d] END;
        o_credit_available := CASE WHEN c IS NOT NULL THEN a_cpo[c] - a_dpo[c] - a_dp[c] END;
        RETURN NEXT;
    END LOOP;

    INSERT INTO wallet.transfers (
        id, sequence, debit_account_id, credit_account_id, amount, ledger, code, flags,
        pending_id, timeout_s, expires_at, reference, memo, initiator_kind, initiator_subject,
        initiator_agent_id, initiator_account_id, initiator_key_id, initiator_peer,
        initiator_request_id, debit_previous_hash, credit_previous_hash, hash, created_at)
    SELECT w.id, w.sequence, w.debit, w.credit, w.amount, w.ledger, w.code, w.flags,
           w.pending_id, w.timeout_s, w.expires_at, w.reference, w.memo, p_initiator_kind,
           p_initiator_subject, p_initiator_agent_id, p_initiator_account_id,
           p_initiator_key_id, p_initiator_peer, p_initiator_request_id, w.debit_previous,
           w.credit_previous, w.hash, p_now
      FROM unnest(w_ids, w_sequences, w_debits, w_credits, w_amounts, w_ledgers, w_codes,
                  w_flags, w_pending_ids, w_timeouts, w_expires, w_references, w_memos,
                  w_debit_previous, w_credit_previous, w_hashes)
           AS w(id, sequence, debit, credit, amount, ledger, code, flags, pending_id,
                timeout_s, expires_at, reference, memo, debit_previous, credit_previous, hash);

    UPDATE wallet.ledger_accounts l
       SET debits_pending = u.dp, debits_posted = u.dpo, credits_pending = u.cp,
           credits_posted = u.cpo, limit_micros = u.lim, chain_head = u.head,
           transfer_count = u.cnt, updated_at = p_now
      FROM unnest(a_ids, a_dp, a_dpo, a_cp, a_cpo, a_limit, a_head, a_count, a_dirty)
           AS u(id, dp, dpo, cp, cpo, lim, head, cnt, dirty)
     WHERE l.id = u.id AND u.dirty;
END
$apply$
"""

REFUSE_CHANGES = r"""
CREATE FUNCTION wallet.refuse_changes() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $guard$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$guard$
"""

GUARD_LEDGER_ACCOUNTS = r"""
CREATE FUNCTION wallet.guard_ledger_accounts() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $guard$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.debits_pending <> 0 OR NEW.debits_posted <> 0 OR NEW.credits_pending <> 0
                OR NEW.credits_posted <> 0 OR NEW.limit_micros <> 0
                OR NEW.chain_head IS NOT NULL OR NEW.transfer_count <> 0 THEN
            RAISE EXCEPTION 'ledger_accounts: an account opens empty'
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF (NEW.id, NEW.kind, NEW.ledger, NEW.agent_id, NEW.account_id, NEW.key_id,
            NEW.debits_must_not_exceed_credits, NEW.credits_must_not_exceed_debits,
            NEW.created_at)
           IS DISTINCT FROM
           (OLD.id, OLD.kind, OLD.ledger, OLD.agent_id, OLD.account_id, OLD.key_id,
            OLD.debits_must_not_exceed_credits, OLD.credits_must_not_exceed_debits,
            OLD.created_at) THEN
            RAISE EXCEPTION 'ledger_accounts: an account''s identity is fixed'
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger_accounts: accounts are never removed (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$guard$
"""

GUARD_HOLDS = r"""
CREATE FUNCTION wallet.guard_holds() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $guard$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'holds: holds are never removed (% refused)', TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.id, NEW.agent_id, NEW.wallet_account_id, NEW.key_id, NEW.budget_account_id,
        NEW.budget_transfer_id, NEW.created_by_subject, NEW.amount, NEW.code, NEW.reference,
        NEW.timeout_s, NEW.created_at, NEW.expires_at)
       IS DISTINCT FROM
       (OLD.id, OLD.agent_id, OLD.wallet_account_id, OLD.key_id, OLD.budget_account_id,
        OLD.budget_transfer_id, OLD.created_by_subject, OLD.amount, OLD.code, OLD.reference,
        OLD.timeout_s, OLD.created_at, OLD.expires_at)
       OR (OLD.status <> 'pending' AND (NEW.status <> OLD.status
           OR NEW.resolved_at IS DISTINCT FROM OLD.resolved_at))
       OR (OLD.void_transfer_id IS NOT NULL
           AND NEW.void_transfer_id IS DISTINCT FROM OLD.void_transfer_id)
       OR (OLD.post_transfer_id IS NOT NULL
           AND (NEW.post_transfer_id IS DISTINCT FROM OLD.post_transfer_id
                OR NEW.posted_micros <> OLD.posted_micros
                OR NEW.overage_micros <> OLD.overage_micros
                OR NEW.shortfall_micros <> OLD.shortfall_micros)) THEN
        RAISE EXCEPTION 'holds: a hold settles once and keeps its identity'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$guard$
"""

TRIGGERS = (
    'CREATE TRIGGER "transfers_append_only" BEFORE UPDATE OR DELETE ON wallet.transfers '
    "FOR EACH ROW EXECUTE FUNCTION wallet.refuse_changes()",
    'CREATE TRIGGER "transfers_no_truncate" BEFORE TRUNCATE ON wallet.transfers '
    "FOR EACH STATEMENT EXECUTE FUNCTION wallet.refuse_changes()",
    'CREATE TRIGGER "guard_ledger_accounts" BEFORE INSERT OR DELETE '
    "ON wallet.ledger_accounts FOR EACH ROW EXECUTE FUNCTION wallet.guard_ledger_accounts()",
    # Only when an identity column is written: balance updates (the hot path) never fire it.
    'CREATE TRIGGER "guard_ledger_accounts_identity" BEFORE UPDATE OF id, kind, ledger, '
    "agent_id, account_id, key_id, debits_must_not_exceed_credits, "
    "credits_must_not_exceed_debits, created_at ON wallet.ledger_accounts "
    "FOR EACH ROW EXECUTE FUNCTION wallet.guard_ledger_accounts()",
    'CREATE TRIGGER "ledger_accounts_no_truncate" BEFORE TRUNCATE ON wallet.ledger_accounts '
    "FOR EACH STATEMENT EXECUTE FUNCTION wallet.refuse_changes()",
    'CREATE TRIGGER "guard_holds" BEFORE UPDATE OR DELETE ON wallet.holds '
    "FOR EACH ROW EXECUTE FUNCTION wallet.guard_holds()",
    'CREATE TRIGGER "holds_no_truncate" BEFORE TRUNCATE ON wallet.holds '
    "FOR EACH STATEMENT EXECUTE FUNCTION wallet.refuse_changes()",
)

FUNCTION_SIGNATURES = (
    "wallet.hash_text(text)",
    "wallet.transfer_hash(uuid, bigint, uuid, uuid, bigint, smallint, smallint, smallint, uuid, "
    "integer, timestamptz, text, text, text, text, uuid, uuid, uuid, text, text, timestamptz, "
    "bytea, bytea)",
    "wallet.apply_transfers(uuid[], uuid[], uuid[], bigint[], smallint[], smallint[], uuid[], "
    "integer[], text[], text[], smallint[], smallint[], timestamptz, text, text, uuid, uuid, "
    "uuid, text, text)",
)
TRIGGER_FUNCTIONS = (
    "wallet.refuse_changes()",
    "wallet.guard_ledger_accounts()",
    "wallet.guard_holds()",
)


def _create_tables() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("ledger", sa.SmallInteger(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("debits_must_not_exceed_credits", sa.Boolean(), nullable=False),
        sa.Column("credits_must_not_exceed_debits", sa.Boolean(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("limit_micros", sa.BigInteger(), nullable=False),
        sa.Column("chain_head", sa.LargeBinary(), nullable=True),
        sa.Column("transfer_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'agent_wallet') = (agent_id IS NOT NULL)"
            " AND (kind = 'account_wallet') = (account_id IS NOT NULL)"
            " AND (kind = 'key_budget') = (key_id IS NOT NULL)",
            name=op.f("ck_ledger_accounts_owner_follows_kind"),
        ),
        sa.CheckConstraint(
            "debits_must_not_exceed_credits = (kind IN ('agent_wallet', 'account_wallet', "
            "'treasury', 'bounty_escrow', 'key_budget')) AND credits_must_not_exceed_debits = "
            "(kind = 'mint')",
            name=op.f("ck_ledger_accounts_flags_follow_kind"),
        ),
        sa.CheckConstraint(
            "kind IN ('agent_wallet', 'account_wallet', 'mint', 'treasury', 'bounty_escrow', "
            "'provider_revenue', 'key_budget', 'key_budget_source')",
            name=op.f("ck_ledger_accounts_kind_known"),
        ),
        sa.CheckConstraint(
            "ledger = CASE WHEN kind IN ('key_budget', 'key_budget_source') THEN 2 ELSE 1 END",
            name=op.f("ck_ledger_accounts_ledger_follows_kind"),
        ),
        sa.CheckConstraint(
            "limit_micros >= 0 AND (kind = 'key_budget' OR limit_micros = 0)",
            name=op.f("ck_ledger_accounts_limit_only_on_key_budgets"),
        ),
        sa.CheckConstraint(
            "NOT credits_must_not_exceed_debits"
            " OR credits_pending + credits_posted <= debits_posted",
            name=op.f("ck_ledger_accounts_credits_must_not_exceed_debits"),
        ),
        sa.CheckConstraint(
            "NOT debits_must_not_exceed_credits"
            " OR debits_pending + debits_posted <= credits_posted",
            name=op.f("ck_ledger_accounts_debits_must_not_exceed_credits"),
        ),
        sa.CheckConstraint(
            "chain_head IS NULL OR octet_length(chain_head) = 32",
            name=op.f("ck_ledger_accounts_chain_head_is_sha256"),
        ),
        sa.CheckConstraint(
            "credits_pending >= 0", name=op.f("ck_ledger_accounts_credits_pending_not_negative")
        ),
        sa.CheckConstraint(
            "credits_posted >= 0", name=op.f("ck_ledger_accounts_credits_posted_not_negative")
        ),
        sa.CheckConstraint(
            "debits_pending >= 0", name=op.f("ck_ledger_accounts_debits_pending_not_negative")
        ),
        sa.CheckConstraint(
            "debits_posted >= 0", name=op.f("ck_ledger_accounts_debits_posted_not_negative")
        ),
        sa.CheckConstraint(
            "transfer_count >= 0 AND (transfer_count = 0) = (chain_head IS NULL)",
            name=op.f("ck_ledger_accounts_chain_head_iff_transfers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("account_id", name=op.f("uq_ledger_accounts_account_id")),
        sa.UniqueConstraint("agent_id", name=op.f("uq_ledger_accounts_agent_id")),
        sa.UniqueConstraint("key_id", name=op.f("uq_ledger_accounts_key_id")),
        schema=SCHEMA,
        comment="Ledger accounts with TigerBeetle's four counters (micro-credits).",
    )
    op.create_index(
        "uq_ledger_accounts_one_per_system_kind",
        "ledger_accounts",
        ["kind"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text(
            "kind IN ('mint', 'treasury', 'bounty_escrow', 'provider_revenue', 'key_budget_source')"
        ),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("debit_account_id", sa.Uuid(), nullable=False),
        sa.Column("credit_account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("ledger", sa.SmallInteger(), nullable=False),
        sa.Column("code", sa.SmallInteger(), nullable=False),
        sa.Column("flags", sa.SmallInteger(), nullable=False),
        sa.Column("pending_id", sa.Uuid(), nullable=True),
        sa.Column("timeout_s", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("initiator_kind", sa.Text(), nullable=False),
        sa.Column("initiator_subject", sa.Text(), nullable=False),
        sa.Column("initiator_agent_id", sa.Uuid(), nullable=True),
        sa.Column("initiator_account_id", sa.Uuid(), nullable=True),
        sa.Column("initiator_key_id", sa.Uuid(), nullable=True),
        sa.Column("initiator_peer", sa.Text(), nullable=False),
        sa.Column("initiator_request_id", sa.Text(), nullable=False),
        sa.Column("debit_previous_hash", sa.LargeBinary(), nullable=True),
        sa.Column("credit_previous_hash", sa.LargeBinary(), nullable=True),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(initiator_kind <> 'agent' OR initiator_agent_id IS NOT NULL)"
            " AND (initiator_kind <> 'account' OR initiator_account_id IS NOT NULL)",
            name=op.f("ck_transfers_initiator_shape"),
        ),
        sa.CheckConstraint(
            "initiator_kind IN ('agent', 'account', 'service', 'wallet')",
            name=op.f("ck_transfers_initiator_kind_known"),
        ),
        sa.CheckConstraint(
            "((flags & 12) <> 0) = (pending_id IS NOT NULL)",
            name=op.f("ck_transfers_resolution_names_pending"),
        ),
        sa.CheckConstraint(
            "((flags & 2) <> 0) = (timeout_s > 0) AND ((flags & 2) <> 0) = (expires_at IS NOT NULL)"
            " AND timeout_s BETWEEN 0 AND 3600",
            name=op.f("ck_transfers_pending_has_timeout"),
        ),
        sa.CheckConstraint(
            "(debit_previous_hash IS NULL OR octet_length(debit_previous_hash) = 32)"
            " AND (credit_previous_hash IS NULL OR octet_length(credit_previous_hash) = 32)",
            name=op.f("ck_transfers_previous_hashes_are_sha256"),
        ),
        sa.CheckConstraint(
            "(flags & 14) IN (0, 2, 4, 8)", name=op.f("ck_transfers_one_phase_at_most")
        ),
        sa.CheckConstraint(
            "amount BETWEEN 1 AND 1000000000000000", name=op.f("ck_transfers_amount_range")
        ),
        sa.CheckConstraint(
            "char_length(initiator_subject) BETWEEN 1 AND 64"
            " AND char_length(initiator_peer) BETWEEN 1 AND 32"
            " AND char_length(initiator_request_id) <= 128",
            name=op.f("ck_transfers_initiator_lengths"),
        ),
        sa.CheckConstraint("char_length(memo) <= 500", name=op.f("ck_transfers_memo_length")),
        sa.CheckConstraint(
            "char_length(reference) <= 128", name=op.f("ck_transfers_reference_length")
        ),
        sa.CheckConstraint("code BETWEEN 1 AND 11", name=op.f("ck_transfers_code_known")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name=op.f("ck_transfers_accounts_different")
        ),
        sa.CheckConstraint(
            "expires_at IS NULL OR expires_at = created_at + make_interval(secs => timeout_s)",
            name=op.f("ck_transfers_expiry_follows_timeout"),
        ),
        sa.CheckConstraint("flags BETWEEN 0 AND 15", name=op.f("ck_transfers_flags_known")),
        sa.CheckConstraint(
            "ledger = CASE WHEN code IN (10, 11) THEN 2 ELSE 1 END",
            name=op.f("ck_transfers_code_follows_ledger"),
        ),
        sa.CheckConstraint("ledger IN (1, 2)", name=op.f("ck_transfers_ledger_known")),
        sa.CheckConstraint("octet_length(hash) = 32", name=op.f("ck_transfers_hash_is_sha256")),
        sa.CheckConstraint("sequence > 0", name=op.f("ck_transfers_sequence_positive")),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["wallet.ledger_accounts.id"],
            name=op.f("fk_transfers_credit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["wallet.ledger_accounts.id"],
            name=op.f("fk_transfers_debit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["pending_id"], ["wallet.transfers.id"], name=op.f("fk_transfers_pending_id_transfers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.UniqueConstraint("sequence", name=op.f("uq_transfers_sequence")),
        schema=SCHEMA,
        comment="Immutable, hash-chained transfers. Insert-only; corrections are new rows.",
    )
    op.create_index(
        op.f("ix_transfers_created_at_id"),
        "transfers",
        ["created_at", "id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_transfers_credit_account_id_created_at_id"),
        "transfers",
        ["credit_account_id", "created_at", "id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_transfers_debit_account_id_created_at_id"),
        "transfers",
        ["debit_account_id", "created_at", "id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        "uq_transfers_pending_id",
        "transfers",
        ["pending_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("pending_id IS NOT NULL"),
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("wallet_account_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("budget_account_id", sa.Uuid(), nullable=True),
        sa.Column("budget_transfer_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_subject", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.SmallInteger(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("timeout_s", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_micros", sa.BigInteger(), nullable=False),
        sa.Column("overage_micros", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_micros", sa.BigInteger(), nullable=False),
        sa.Column("post_transfer_id", sa.Uuid(), nullable=True),
        sa.Column("void_transfer_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(post_transfer_id IS NOT NULL) = (status = 'posted'"
            " OR (status = 'expired' AND post_transfer_id IS NOT NULL))"
            " AND (post_transfer_id IS NOT NULL"
            " OR (posted_micros = 0 AND overage_micros = 0 AND shortfall_micros = 0))",
            name=op.f("ck_holds_settlement_needs_post"),
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (resolved_at IS NULL)", name=op.f("ck_holds_resolved_iff_done")
        ),
        sa.CheckConstraint(
            "(status = 'posted') = (posted_micros > 0) AND posted_micros <= amount",
            name=op.f("ck_holds_posted_within_hold"),
        ),
        sa.CheckConstraint(
            "(void_transfer_id IS NOT NULL) = (status IN ('voided', 'expired'))",
            name=op.f("ck_holds_void_iff_voided"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'posted', 'voided', 'expired')",
            name=op.f("ck_holds_status_known"),
        ),
        sa.CheckConstraint(
            "(budget_account_id IS NULL) = (budget_transfer_id IS NULL)"
            " AND (budget_account_id IS NULL OR key_id IS NOT NULL)",
            name=op.f("ck_holds_budget_side_complete"),
        ),
        sa.CheckConstraint(
            "amount BETWEEN 1 AND 1000000000000000", name=op.f("ck_holds_amount_range")
        ),
        sa.CheckConstraint("char_length(reference) <= 128", name=op.f("ck_holds_reference_length")),
        sa.CheckConstraint("code IN (4, 5)", name=op.f("ck_holds_code_is_inference")),
        sa.CheckConstraint(
            "expires_at = created_at + make_interval(secs => timeout_s)",
            name=op.f("ck_holds_expiry_follows_timeout"),
        ),
        sa.CheckConstraint(
            "overage_micros >= 0 AND shortfall_micros >= 0",
            name=op.f("ck_holds_settlement_not_negative"),
        ),
        sa.CheckConstraint("timeout_s BETWEEN 1 AND 3600", name=op.f("ck_holds_timeout_range")),
        sa.ForeignKeyConstraint(
            ["budget_account_id"],
            ["wallet.ledger_accounts.id"],
            name=op.f("fk_holds_budget_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["budget_transfer_id"],
            ["wallet.transfers.id"],
            name=op.f("fk_holds_budget_transfer_id_transfers"),
        ),
        sa.ForeignKeyConstraint(
            ["id"], ["wallet.transfers.id"], name=op.f("fk_holds_id_transfers")
        ),
        sa.ForeignKeyConstraint(
            ["wallet_account_id"],
            ["wallet.ledger_accounts.id"],
            name=op.f("fk_holds_wallet_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
        sa.UniqueConstraint("post_transfer_id", name=op.f("uq_holds_post_transfer_id")),
        sa.UniqueConstraint("void_transfer_id", name=op.f("uq_holds_void_transfer_id")),
        schema=SCHEMA,
        comment="One inference request's hold: its pending transfers and how they settled.",
    )
    op.create_index(
        "ix_holds_pending_expires_at",
        "holds",
        ["expires_at"],
        unique=False,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )


def _grant_columns(table: str, columns: tuple[str, ...]) -> None:
    listed = ", ".join(f'"{column}"' for column in columns)
    op.execute(f'GRANT UPDATE ({listed}) ON "{SCHEMA}"."{table}" TO "{runtime_role()}"')


def upgrade() -> None:
    _create_tables()
    op.execute("CREATE SEQUENCE wallet.transfer_sequence AS bigint START 1 NO CYCLE")
    op.execute(HASH_TEXT)
    op.execute(TRANSFER_HASH)
    op.execute(APPLY_TRANSFERS)
    for function in (REFUSE_CHANGES, GUARD_LEDGER_ACCOUNTS, GUARD_HOLDS):
        op.execute(function)
    for trigger in TRIGGERS:
        op.execute(trigger)
    for kind, ledger, debits_bounded, credits_bounded in SYSTEM_ACCOUNTS:
        op.execute(
            "INSERT INTO wallet.ledger_accounts (id, kind, ledger, "
            "debits_must_not_exceed_credits, credits_must_not_exceed_debits, debits_pending, "
            "debits_posted, credits_pending, credits_posted, limit_micros, transfer_count, "
            f"created_at, updated_at) VALUES (gen_random_uuid(), '{kind}', {ledger}, "
            f"{str(debits_bounded).lower()}, {str(credits_bounded).lower()}, 0, 0, 0, 0, 0, 0, "
            "now(), now())"
        )
    # Least privilege: what the wallet process does, nothing more. Transfers are insert-only;
    # accounts change only in their counters and chain; holds only in their settlement.
    grant_runtime(schema=SCHEMA, table="ledger_accounts", privileges=("SELECT", "INSERT"))
    _grant_columns("ledger_accounts", ACCOUNT_MUTABLE_COLUMNS)
    grant_runtime(schema=SCHEMA, table="transfers", privileges=("SELECT", "INSERT"))
    grant_runtime(schema=SCHEMA, table="holds", privileges=("SELECT", "INSERT"))
    _grant_columns("holds", HOLD_MUTABLE_COLUMNS)
    op.execute(f'GRANT USAGE ON SEQUENCE wallet.transfer_sequence TO "{runtime_role()}"')
    for signature in (*FUNCTION_SIGNATURES, *TRIGGER_FUNCTIONS):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    for signature in FUNCTION_SIGNATURES:
        op.execute(f'GRANT EXECUTE ON FUNCTION {signature} TO "{runtime_role()}"')


def downgrade() -> None:
    for table in ("holds", "transfers", "ledger_accounts"):
        op.execute(f"ALTER TABLE wallet.{table} DISABLE TRIGGER USER")
    op.drop_index(
        "ix_holds_pending_expires_at",
        table_name="holds",
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("holds", schema=SCHEMA)
    op.drop_index(
        "uq_transfers_pending_id",
        table_name="transfers",
        schema=SCHEMA,
        postgresql_where=sa.text("pending_id IS NOT NULL"),
    )
    op.drop_index(
        op.f("ix_transfers_debit_account_id_created_at_id"), table_name="transfers", schema=SCHEMA
    )
    op.drop_index(
        op.f("ix_transfers_credit_account_id_created_at_id"), table_name="transfers", schema=SCHEMA
    )
    op.drop_index(op.f("ix_transfers_created_at_id"), table_name="transfers", schema=SCHEMA)
    op.drop_table("transfers", schema=SCHEMA)
    op.drop_index(
        "uq_ledger_accounts_one_per_system_kind",
        table_name="ledger_accounts",
        schema=SCHEMA,
        postgresql_where=sa.text(
            "kind IN ('mint', 'treasury', 'bounty_escrow', 'provider_revenue', 'key_budget_source')"
        ),
    )
    op.drop_table("ledger_accounts", schema=SCHEMA)
    for signature in (*reversed(FUNCTION_SIGNATURES), *TRIGGER_FUNCTIONS):
        op.execute(f"DROP FUNCTION {signature}")
    op.execute("DROP SEQUENCE wallet.transfer_sequence")
