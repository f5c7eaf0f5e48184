"""/api/customers, /api/numbers and notes."""

from __future__ import annotations

import uuid

from aiohttp import web

from crm.domain.access import may_manage_customer, may_see_customer
from crm.domain.enums import Role
from crm.http import schemas as sc
from crm.http.routing import Ctx, Route
from crm.http.views import ok, page_json, row
from crm.services.common import parse_uuid
from crm.services.customers import ConflictPolicy, CustomerChanges, CustomerInput

HUMANS = (Role.AGENT, Role.MANAGER)
READERS = (Role.AGENT, Role.MANAGER, Role.DIALER)


def _cid(ctx: Ctx) -> uuid.UUID:
    return parse_uuid(ctx.path_param("customer_id"), "customer_id")


async def _seen(ctx: Ctx) -> uuid.UUID:
    """The path's customer, when the caller may see and edit it (its agents and managers)."""
    cid = _cid(ctx)
    may_see_customer(ctx.who, await ctx.service.access.customer(cid))
    return cid


async def _managed(ctx: Ctx, customer_id: uuid.UUID | None = None) -> uuid.UUID:
    """The customer, when the caller manages one of its campaigns (merge, delete a number)."""
    cid = customer_id or _cid(ctx)
    may_manage_customer(ctx.who, await ctx.service.access.customer(cid))
    return cid


async def list_customers(ctx: Ctx) -> web.Response:
    q: sc.CustomerQuery = ctx.query
    agent_id = ctx.who.user_id if ctx.who.role is Role.AGENT else None
    manager_id = ctx.who.user_id if ctx.who.role is Role.MANAGER else None
    page = await ctx.service.customers.search(q=q.q, tag=q.tag, limit=q.limit, offset=q.offset,
                                              agent_id=agent_id, owner=q.owner,
                                              manager_id=manager_id)
    ids = [c.id for c in page.items]
    tags = await ctx.service.customers.tags_of(ids)
    numbers = await ctx.service.customers.numbers_of(ids)
    body = page_json(page)
    for item, customer in zip(body["items"], page.items, strict=True):
        item["tags"] = tags.get(customer.id, [])
        item["numbers"] = numbers.get(customer.id, [])
    return ok(body)


async def create_customer(ctx: Ctx) -> web.Response:
    b: sc.CustomerIn = ctx.body
    policy = ConflictPolicy(ctx.query.on_conflict)
    customer, merged = await ctx.service.customers.create(
        CustomerInput(
            name=b.name,
            phones=b.phones,
            email=b.email,
            timezone=b.timezone,
            tags=b.tags,
            external_ref=b.external_ref,
        ),
        policy=policy,
        actor_id=ctx.who.user_id,
    )
    return ok({"customer": row(customer), "merged": merged}, 200 if merged else 201)


async def get_customer(ctx: Ctx) -> web.Response:
    q: sc.SummaryQuery = ctx.query
    return ok(await ctx.service.customer_summary(await _seen(ctx), language=q.language))


async def patch_customer(ctx: Ctx) -> web.Response:
    b: sc.CustomerPatch = ctx.body
    customer = await ctx.service.customers.update(
        await _seen(ctx),
        CustomerChanges(
            name=b.name,
            email=b.email,
            timezone=b.timezone,
            add_phones=b.add_phones,
            remove_phones=b.remove_phones,
            add_tags=b.add_tags,
            remove_tags=b.remove_tags,
        ),
        actor_id=ctx.who.user_id,
    )
    return ok(row(customer))


async def merge_customers(ctx: Ctx) -> web.Response:
    b: sc.MergeIn = ctx.body
    target = await _managed(ctx)
    for source in b.source_ids:
        await _managed(ctx, source)
    customer = await ctx.service.customers.merge(target, b.source_ids, actor_id=ctx.who.user_id)
    return ok(row(customer))


async def customer_activity(ctx: Ctx) -> web.Response:
    q: sc.SummaryQuery = ctx.query
    return ok(await ctx.service.customer360.activity(await _seen(ctx), ctx.who,
                                                     language=q.language.value))


async def merge_preview(ctx: Ctx) -> web.Response:
    b: sc.MergeIn = ctx.body
    target = await _managed(ctx)
    for source in b.source_ids:
        await _managed(ctx, source)
    return ok(await ctx.service.customer360.merge_preview(target, b.source_ids))


async def list_numbers(ctx: Ctx) -> web.Response:
    numbers = await ctx.service.customers.numbers(await _seen(ctx))
    return ok({"items": [row(n) for n in numbers]})


async def add_number(ctx: Ctx) -> web.Response:
    b: sc.NumberIn = ctx.body
    customer = await ctx.service.customers.update(
        await _seen(ctx), CustomerChanges(add_phones=[b.number]), actor_id=ctx.who.user_id
    )
    numbers = await ctx.service.customers.numbers(customer.id)
    return ok({"items": [row(n) for n in numbers]}, 201)


async def remove_number(ctx: Ctx) -> web.Response:
    await ctx.service.customers.update(
        await _managed(ctx),
        CustomerChanges(remove_phones=[ctx.path_param("number")]),
        actor_id=ctx.who.user_id,
    )
    return web.Response(status=204)


async def lookup_number(ctx: Ctx) -> web.Response:
    customer = await ctx.service.customers.find_by_number(ctx.path_param("number"))
    may_see_customer(ctx.who, await ctx.service.access.customer(customer.id))
    return ok(row(customer))


async def list_notes(ctx: Ctx) -> web.Response:
    q: sc.PageQuery = ctx.query
    page = await ctx.service.work.list_notes(await _seen(ctx), limit=q.limit, offset=q.offset)
    return ok(page_json(page))


async def add_note(ctx: Ctx) -> web.Response:
    b: sc.NoteIn = ctx.body
    note = await ctx.service.work.add_note(
        await _seen(ctx), b.body, author_id=ctx.who.user_id, call_id=b.call_id
    )
    return ok(row(note), 201)


C = "customers"
ROUTES = [
    Route(
        "GET",
        "/api/customers",
        list_customers,
        "Search customers (name or number)",
        C,
        READERS,
        query=sc.CustomerQuery,
    ),
    Route(
        "POST",
        "/api/customers",
        create_customer,
        "Create a customer; ?on_conflict=merge folds into the number's owner",
        C,
        HUMANS,
        query=sc.ConflictQuery,
        body=sc.CustomerIn,
        responses={
            201: "created",
            200: "merged into the existing owner",
            409: "number belongs to another customer",
        },
    ),
    Route(
        "GET",
        "/api/customers/{customer_id}",
        get_customer,
        "Customer summary for the screen pop (numbers, tags, recent contacts, open tasks, "
        "recommended script)",
        C,
        READERS,
        query=sc.SummaryQuery,
    ),
    Route(
        "PATCH",
        "/api/customers/{customer_id}",
        patch_customer,
        "Update a customer",
        C,
        HUMANS,
        body=sc.CustomerPatch,
    ),
    Route(
        "POST",
        "/api/customers/{customer_id}/merge",
        merge_customers,
        "Merge other customers into this one (numbers, calls, tasks, notes, tags, leads)",
        C,
        (Role.MANAGER,),
        body=sc.MergeIn,
    ),
    Route(
        "POST",
        "/api/customers/{customer_id}/merge/preview",
        merge_preview,
        "What merging these customers into this one would move (numbers, calls, tasks, notes, "
        "leads, tags); changes nothing",
        C,
        (Role.MANAGER,),
        body=sc.MergeIn,
    ),
    Route(
        "GET",
        "/api/customers/{customer_id}/activity",
        customer_activity,
        "The customer 360: numbers (type, region, DNC), the calls the caller may see (campaign, "
        "agent, duration, recording, analysis, rules fired), leads (campaign, next attempt), "
        "the merge audit",
        C,
        HUMANS,
        query=sc.SummaryQuery,
    ),
    Route(
        "GET",
        "/api/customers/{customer_id}/numbers",
        list_numbers,
        "List numbers",
        "numbers",
        READERS,
    ),
    Route(
        "POST",
        "/api/customers/{customer_id}/numbers",
        add_number,
        "Add a number",
        "numbers",
        HUMANS,
        body=sc.NumberIn,
        responses={201: "added"},
    ),
    Route(
        "DELETE",
        "/api/customers/{customer_id}/numbers/{number}",
        remove_number,
        "Remove a number",
        "numbers",
        (Role.MANAGER,),
        responses={204: "removed"},
    ),
    Route(
        "GET",
        "/api/numbers/{number}",
        lookup_number,
        "Find the customer owning a number",
        "numbers",
        READERS,
    ),
    Route(
        "GET",
        "/api/customers/{customer_id}/notes",
        list_notes,
        "List notes",
        "notes",
        READERS,
        query=sc.PageQuery,
    ),
    Route(
        "POST",
        "/api/customers/{customer_id}/notes",
        add_note,
        "Add a note",
        "notes",
        HUMANS,
        body=sc.NoteIn,
        responses={201: "created"},
    ),
]
