"""/api/auth (login/logout/me), /api/users and tokens, dispositions, scripts."""

from __future__ import annotations

import uuid

from aiohttp import web

from crm.db.models_ops import Disposition
from crm.domain.access import may_add_script, may_change_owned, require_owner_or, require_role
from crm.domain.enums import Role
from crm.errors import PermissionDeniedError
from crm.http import schemas as sc
from crm.http.routing import SESSION_COOKIE, SMALL_MAX_BODY, Ctx, Route
from crm.http.views import json_time, ok, page_json, row, token_json, user_json
from crm.services.common import parse_uuid

ALL = (Role.AGENT, Role.MANAGER, Role.DIALER)


async def login(ctx: Ctx) -> web.Response:
    b: sc.LoginIn = ctx.body
    session_id, who = await ctx.service.auth.login(
        b.username, b.password, address=ctx.request.remote
    )
    response = ok({"user_id": str(who.user_id), "username": who.username, "role": who.role.value})
    settings = ctx.service.settings
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="Strict",
        secure=settings.cookie_secure,
        path="/",
    )
    return response


async def logout(ctx: Ctx) -> web.Response:
    session_id = ctx.request.cookies.get(SESSION_COOKIE)
    if session_id:
        await ctx.service.auth.logout(session_id)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me(ctx: Ctx) -> web.Response:
    return ok(user_json(await ctx.service.auth.get_user(ctx.who.user_id)))


async def list_users(ctx: Ctx) -> web.Response:
    q: sc.UserQuery = ctx.query
    page = await ctx.service.auth.list_users(role=q.role, limit=q.limit, offset=q.offset)
    return ok(page_json(page, user_json))


async def create_user(ctx: Ctx) -> web.Response:
    b: sc.UserIn = ctx.body
    user = await ctx.service.auth.create_user(
        b.username,
        b.role,
        password=b.password,
        display_name=b.display_name,
        actor_id=ctx.who.user_id,
    )
    return ok(user_json(user), 201)


def _uid(ctx: Ctx) -> uuid.UUID:
    return parse_uuid(ctx.path_param("user_id"), "user_id")


async def get_user(ctx: Ctx) -> web.Response:
    user_id = _uid(ctx)
    require_owner_or(ctx.who, user_id, Role.MANAGER)
    return ok(user_json(await ctx.service.auth.get_user(user_id)))


async def patch_user(ctx: Ctx) -> web.Response:
    b: sc.UserPatch = ctx.body
    user_id = _uid(ctx)
    require_owner_or(ctx.who, user_id)
    if not ctx.who.is_admin and b.model_fields_set & {"role", "active"}:
        raise PermissionDeniedError("only an admin changes roles or deactivates users")
    if b.password and user_id == ctx.who.user_id:  # an admin resetting another's: no need
        await ctx.service.auth.check_current_password(
            user_id, b.current_password, address=ctx.request.remote
        )
    user = await ctx.service.auth.update_user(
        user_id,
        display_name=b.display_name,
        role=b.role,
        password=b.password,
        active=b.active,
        actor_id=ctx.who.user_id,
    )
    return ok(user_json(user))


async def issue_token(ctx: Ctx) -> web.Response:
    b: sc.TokenIn = ctx.body
    user_id = _uid(ctx)
    require_owner_or(ctx.who, user_id)
    issued = await ctx.service.auth.issue_token(
        user_id,
        b.name,
        expires_in_days=b.expires_in_days,
        actor_id=ctx.who.user_id,
    )
    return ok(
        {
            "token": issued.token,
            "token_id": str(issued.token_id),
            "user_id": str(issued.user_id),
            "expires_at": json_time(issued.expires_at),
        },
        201,
    )


async def revoke_token(ctx: Ctx) -> web.Response:
    await ctx.service.auth.revoke_token(
        parse_uuid(ctx.path_param("token_id"), "token_id"), actor_id=ctx.who.user_id
    )
    return web.Response(status=204)


async def list_my_tokens(ctx: Ctx) -> web.Response:
    q: sc.TokenQuery = ctx.query
    user_id = q.user_id or ctx.who.user_id
    if user_id != ctx.who.user_id and not ctx.who.is_admin:
        raise PermissionDeniedError("only an admin lists another user's tokens")
    page = await ctx.service.auth.list_tokens(user_id, limit=q.limit, offset=q.offset)
    return ok(page_json(page, token_json))


async def revoke_my_token(ctx: Ctx) -> web.Response:
    await ctx.service.auth.revoke_token(
        parse_uuid(ctx.path_param("token_id"), "token_id"),
        actor_id=ctx.who.user_id,
        owner_id=None if ctx.who.is_admin else ctx.who.user_id,
    )
    return web.Response(status=204)


async def list_dispositions(ctx: Ctx) -> web.Response:
    """The wrap-up codes of a campaign (every campaign's and its own), or every campaign's."""
    q: sc.DispositionQuery = ctx.query
    if q.campaign_id is not None:
        await ctx.service.campaigns.get(q.campaign_id)  # 404 for an unknown campaign
    items = await ctx.service.reference.dispositions(q.campaign_id, every=q.all)
    return ok({"items": [row(d) for d in items]})


async def add_disposition(ctx: Ctx) -> web.Response:
    b: sc.DispositionIn = ctx.body
    if b.campaign_id is not None:
        await ctx.service.campaigns.get(b.campaign_id)  # 404 for an unknown campaign
    d = await ctx.service.reference.add_disposition(
        Disposition(**{**b.model_dump(), "category": b.category.value}),
        actor_id=ctx.who.user_id,
    )
    return ok(row(d), 201)


async def list_scripts(ctx: Ctx) -> web.Response:
    """Every campaign's scripts, and those of the caller's campaigns (admins: all)."""
    role, me = ctx.who.role, ctx.who.user_id
    scripts = await ctx.service.reference.scripts(
        manager_id=me if role is Role.MANAGER else None,
        member_id=me if role is Role.AGENT else None,
    )
    return ok({"items": [row(s) for s in scripts]})


async def add_script(ctx: Ctx) -> web.Response:
    b: sc.ScriptIn = ctx.body
    require_role(ctx.who, Role.MANAGER)
    campaign = None if b.campaign_id is None else await ctx.service.campaigns.get(b.campaign_id)
    may_add_script(ctx.who, campaign)
    script = await ctx.service.reference.add_script(
        name=b.name,
        body=b.body,
        language=b.language,
        tags=b.tags,
        priority=b.priority,
        campaign_id=b.campaign_id,
        actor_id=ctx.who.user_id,
    )
    return ok(row(script), 201)


async def _own_script(ctx: Ctx) -> uuid.UUID:
    script_id = parse_uuid(ctx.path_param("script_id"), "script_id")
    script = await ctx.service.reference.script(script_id)
    may_change_owned(ctx.who, script.owner_id, "script")
    return script_id


async def patch_script(ctx: Ctx) -> web.Response:
    b: sc.ScriptPatch = ctx.body
    script = await ctx.service.reference.update_script(
        await _own_script(ctx), b.model_dump(exclude_unset=True), actor_id=ctx.who.user_id
    )
    return ok(row(script))


async def delete_script(ctx: Ctx) -> web.Response:
    await ctx.service.reference.delete_script(await _own_script(ctx), actor_id=ctx.who.user_id)
    return web.Response(status=204)


HUMANS = (Role.AGENT, Role.MANAGER)
ROUTES = [
    Route(
        "POST",
        "/api/auth/login",
        login,
        "Log in; sets the session cookie",
        "auth",
        public=True,
        body=sc.LoginIn,
        max_body=SMALL_MAX_BODY,
        responses={
            200: "logged in",
            401: "wrong credentials",
            413: "body over 4 KiB",
            429: "too many failed logins (per account or address): wait Retry-After seconds",
        },
    ),
    Route(
        "POST",
        "/api/auth/logout",
        logout,
        "Log out (ends the session)",
        "auth",
        ALL,
        responses={204: "logged out"},
    ),
    Route("GET", "/api/auth/me", me, "The current user", "auth", ALL),
    Route(
        "GET",
        "/api/auth/tokens",
        list_my_tokens,
        "My API tokens, newest first (admin: any user's with ?user_id=)",
        "auth",
        ALL,
        query=sc.TokenQuery,
    ),
    Route(
        "DELETE",
        "/api/auth/tokens/{token_id}",
        revoke_my_token,
        "Revoke one of my API tokens (admin: anyone's)",
        "auth",
        ALL,
        responses={204: "revoked"},
    ),
    Route(
        "GET", "/api/users", list_users, "List users", "users", (Role.MANAGER,), query=sc.UserQuery
    ),
    Route(
        "POST",
        "/api/users",
        create_user,
        "Create a user (admin)",
        "users",
        (),
        body=sc.UserIn,
        responses={201: "created"},
    ),
    Route(
        "GET", "/api/users/{user_id}", get_user, "Get a user (self, manager, admin)", "users", ALL
    ),
    Route(
        "PATCH",
        "/api/users/{user_id}",
        patch_user,
        "Update a user (self: name, password with current_password; admin: all)",
        "users",
        ALL,
        body=sc.UserPatch,
    ),
    Route(
        "POST",
        "/api/users/{user_id}/tokens",
        issue_token,
        "Issue an API token (returned once)",
        "users",
        ALL,
        body=sc.TokenIn,
        responses={201: "issued"},
    ),
    Route(
        "DELETE",
        "/api/tokens/{token_id}",
        revoke_token,
        "Revoke an API token (admin)",
        "users",
        (),
        responses={204: "revoked"},
    ),
    Route("GET", "/api/dispositions", list_dispositions,
          "Disposition codes (?campaign_id=: that campaign's wrap-up codes, in order)",
          "reference", ALL, query=sc.DispositionQuery),
    Route(
        "POST",
        "/api/dispositions",
        add_disposition,
        "Add a disposition code (admin)",
        "reference",
        (),
        body=sc.DispositionIn,
        responses={201: "created"},
    ),
    Route(
        "GET",
        "/api/scripts",
        list_scripts,
        "Call-script templates: every campaign's and those of the caller's campaigns (managed, "
        "or a member of; admins: all)",
        "reference",
        ALL,
    ),
    Route(
        "POST",
        "/api/scripts",
        add_script,
        "Add a call-script template (managers: for a campaign they manage; admins: any, or "
        "for every campaign)",
        "reference",
        (Role.MANAGER,),
        body=sc.ScriptIn,
        responses={201: "created", 403: "not your campaign / every campaign: admins only"},
    ),
    Route(
        "PATCH",
        "/api/scripts/{script_id}",
        patch_script,
        "Edit a call-script template (its owner; admins: all)",
        "reference",
        (Role.MANAGER,),
        body=sc.ScriptPatch,
        responses={200: "updated", 403: "not your script", 404: "no such script"},
    ),
    Route(
        "DELETE",
        "/api/scripts/{script_id}",
        delete_script,
        "Delete a call-script template (its owner; admins: all)",
        "reference",
        (Role.MANAGER,),
        responses={204: "deleted", 403: "not your script", 404: "no such script"},
    ),
]
