"""``wallet.apply_transfers_once``: a whole transfer request in one statement.

The request-id replay log and the ledger function in one call, so a CreateTransfer is one round
trip to the database (and, run outside an explicit transaction, one implicit transaction):

1. take the request's advisory lock (the same key ``services.common.idempotency.run_once``
   takes, so the two paths exclude each other);
2. look the request up in ``wallet.request_log`` (a new snapshot: PL/pgSQL statements each see
   what committed before them, so a request that finished while we waited for the lock is seen);
   a different digest answers ``conflict``; a recorded answer is replayed;
3. otherwise call ``wallet.apply_transfers`` and record its outcome rows in the request log:
   always for a batch, only when every transfer succeeded for a single-transfer request (a
   refused single transfer records nothing and writes nothing, as before).

Recorded outcomes are stored in ``request_log.response`` as a 0x00 byte followed by the rows as
JSON; a serialized protobuf message never starts with a 0x00 byte (field number 0 does not
exist), so answers recorded by ``run_once`` before this revision are told apart and returned as
they were stored. The replayed rows are the rows of the first call, so the caller rebuilds a
byte-identical answer.

Revision ID: wallet_0003
Revises: wallet_0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from services.common.migrations import runtime_role

revision = "wallet_0003"
down_revision = "wallet_0002"
branch_labels = None
depends_on = None

OUTCOME_TYPE = """
CREATE TYPE wallet.transfer_outcome AS (
    o_index integer, o_result smallint, o_id uuid, o_sequence bigint,
    o_debit_account_id uuid, o_credit_account_id uuid, o_amount bigint, o_ledger smallint,
    o_code smallint, o_flags smallint, o_pending_id uuid, o_timeout_s integer,
    o_expires_at timestamptz, o_reference text, o_memo text, o_initiator_kind text,
    o_initiator_subject text, o_initiator_agent_id uuid, o_initiator_account_id uuid,
    o_initiator_key_id uuid, o_initiator_peer text, o_initiator_request_id text,
    o_debit_previous_hash bytea, o_credit_previous_hash bytea, o_hash bytea,
    o_created_at timestamptz, o_debit_available bigint, o_credit_available bigint
)
"""

# r_status: 0 applied now, 1 replayed outcome rows, 2 replayed answer recorded by run_once
# (r_stored, one row), 3 request id used before with a different request (one row).
APPLY_TRANSFERS_ONCE = r"""
CREATE FUNCTION wallet.apply_transfers_once(
    p_lock_key text, p_caller text, p_method text, p_request_id text, p_digest bytea,
    p_record_failures boolean,
    p_ids uuid[], p_debit_ids uuid[], p_credit_ids uuid[], p_amounts bigint[],
    p_codes smallint[], p_flags smallint[], p_pending_ids uuid[], p_timeouts integer[],
    p_references text[], p_memos text[], p_rejections smallint[], p_denials smallint[],
    p_now timestamptz, p_initiator_kind text, p_initiator_subject text,
    p_initiator_agent_id uuid, p_initiator_account_id uuid, p_initiator_key_id uuid,
    p_initiator_peer text, p_initiator_request_id text
) RETURNS TABLE (r_status smallint, r_stored bytea, r_outcome wallet.transfer_outcome)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $once$
DECLARE
    v_digest bytea;
    v_response bytea;
    v_outcomes wallet.transfer_outcome[];
    v_all_succeeded boolean;
BEGIN
    IF p_lock_key IS NULL OR p_caller IS NULL OR p_method IS NULL OR p_request_id IS NULL
            OR octet_length(p_digest) IS DISTINCT FROM 32 OR p_record_failures IS NULL THEN
        RAISE EXCEPTION 'apply_transfers_once: malformed call'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_lock_key, 0));
    SELECT l.request_digest, l.response INTO v_digest, v_response
      FROM wallet.request_log l
     WHERE l.caller = p_caller AND l.method = p_method AND l.request_id = p_request_id;
    IF FOUND THEN
        IF v_digest <> p_digest THEN
            RETURN QUERY SELECT 3::smallint, NULL::bytea, NULL::wallet.transfer_outcome;
        ELSIF octet_length(v_response) > 0 AND get_byte(v_response, 0) = 0 THEN
            RETURN QUERY
                SELECT 1::smallint, NULL::bytea, o
                  FROM jsonb_populate_recordset(
                           NULL::wallet.transfer_outcome,
                           convert_from(substring(v_response FROM 2), 'UTF8')::jsonb) AS o
                 ORDER BY o.o_index;
        ELSE
            RETURN QUERY SELECT 2::smallint, v_response, NULL::wallet.transfer_outcome;
        END IF;
        RETURN;
    END IF;

    SELECT array_agg(t::wallet.transfer_outcome ORDER BY t.o_index),
           bool_and(t.o_result IN (1, 2))  -- OK, EXISTS
      INTO v_outcomes, v_all_succeeded
      FROM wallet.apply_transfers(
               p_ids, p_debit_ids, p_credit_ids, p_amounts, p_codes, p_flags, p_pending_ids,
               p_timeouts, p_references, p_memos, p_rejections, p_denials, p_now,
               p_initiator_kind, p_initiator_subject, p_initiator_agent_id,
               p_initiator_account_id, p_initiator_key_id, p_initiator_peer,
               p_initiator_request_id) AS t;
    IF p_record_failures OR coalesce(v_all_succeeded, false) THEN
        INSERT INTO wallet.request_log (caller, method, request_id, request_digest, response)
        VALUES (p_caller, p_method, p_request_id, p_digest,
                '\x00'::bytea || convert_to(coalesce(to_jsonb(v_outcomes), '[]')::text, 'UTF8'));
    END IF;
    RETURN QUERY SELECT 0::smallint, NULL::bytea, o FROM unnest(v_outcomes) AS o;
END
$once$
"""

SIGNATURE = (
    "wallet.apply_transfers_once(text, text, text, text, bytea, boolean, uuid[], uuid[], "
    "uuid[], bigint[], smallint[], smallint[], uuid[], integer[], text[], text[], smallint[], "
    "smallint[], timestamptz, text, text, uuid, uuid, uuid, text, text)"
)


def upgrade() -> None:
    op.execute(OUTCOME_TYPE)
    op.execute(APPLY_TRANSFERS_ONCE)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "{runtime_role()}"')
    op.execute(f'GRANT USAGE ON TYPE wallet.transfer_outcome TO "{runtime_role()}"')


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute("DROP TYPE wallet.transfer_outcome")
