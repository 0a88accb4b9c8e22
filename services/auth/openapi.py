#!/usr/bin/env python3
"""Writes services/auth/openapi.json, the auth service's OpenAPI 3.0 document (embedded in
the binary and served at /openapi.json). The document is long and repetitive; this script
states each rule once so that the schemas stay exactly what the code enforces.

    python3 services/auth/openapi.py > services/auth/openapi.json

The input rules mirror services/auth/rules.c and service.c (auth_valid_*): change both
together. A test (unit/services/auth/openapi) checks that the committed file is what this
script writes."""
import json
import sys

NO_CTRL = "^[^\\u0000-\\u001f\\u007f]*$"
TEXT = "^[^\\u0000-\\u001f\\u007f]*[^\\u0000-\\u001f\\u007f ][^\\u0000-\\u001f\\u007f]*$"
OID = "^[0-9a-fA-F]{24}$"
EMAIL = ("^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
         "(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
PHONE = "^\\+[1-9][0-9]{6,14}$"
TOKEN = "^[A-Za-z0-9_-]{43}$"
POSTAL = "^[A-Za-z0-9]([A-Za-z0-9 -]{0,18}[A-Za-z0-9])?$"
COUNTRY = "^[A-Z]{2}$"


def ref(name):
    return {"$ref": "#/components/schemas/" + name}


def text(maxlen, desc, nullable=False):
    s = {"type": "string", "minLength": 1, "maxLength": maxlen, "pattern": TEXT,
         "description": desc + " Leading and trailing spaces are removed; at least one other "
                               "character; no control characters."}
    if nullable:
        s["nullable"] = True
    return s


def email(desc="Email address (ASCII; compared case-insensitively)."):
    return {"type": "string", "minLength": 3, "maxLength": 254, "pattern": EMAIL, "description": desc}


def password(minlen, desc):
    return {"type": "string", "minLength": minlen, "maxLength": 128, "pattern": NO_CTRL, "description": desc}


def phone(desc="E.164 phone number, e.g. +4930123456."):
    return {"type": "string", "pattern": PHONE, "nullable": True, "description": desc}


def token(desc):
    return {"type": "string", "pattern": TOKEN, "description": desc}


def obj(props, required=(), extra=None):
    s = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        s["required"] = list(required)
    if extra:
        s.update(extra)
    return s


TIME = {"type": "string", "format": "date-time"}
ROLE = {"type": "string", "enum": ["customer", "seller", "admin"]}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": [
                    "BAD_REQUEST", "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "METHOD_NOT_ALLOWED",
                    "CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "UNPROCESSABLE",
                    "RATE_LIMITED", "INTERNAL", "UPSTREAM_ERROR", "UNAVAILABLE", "TIMEOUT"]},
                "message": {"type": "string"},
                "details": {"description": "Field errors [{field, message}] for 400; {reason} for token "
                                           "refusals (invalid, expired, used, superseded); "
                                           "{retryAfterSeconds} for 429."}}}}},
    "User": {
        "type": "object",
        "required": ["id", "email", "name", "phone", "role", "emailVerified", "disabled", "googleLinked",
                     "hasPassword", "defaultShippingAddressId", "defaultBillingAddressId", "createdAt", "updatedAt"],
        "properties": {
            "id": {"type": "string", "pattern": OID},
            "email": {"type": "string"},
            "name": {"type": "string"},
            "phone": {"type": "string", "nullable": True},
            "role": ROLE,
            "emailVerified": {"type": "boolean"},
            "disabled": {"type": "boolean"},
            "googleLinked": {"type": "boolean", "description": "Signs in with Google."},
            "hasPassword": {"type": "boolean", "description": "False for accounts created by Google sign-in "
                                                             "until a password is set through a reset."},
            "defaultShippingAddressId": {"type": "string", "pattern": OID, "nullable": True},
            "defaultBillingAddressId": {"type": "string", "pattern": OID, "nullable": True},
            "createdAt": TIME, "updatedAt": TIME}},
    "PublicUser": {
        "type": "object", "required": ["id", "name", "role"],
        "properties": {"id": {"type": "string", "pattern": OID}, "name": {"type": "string"}, "role": ROLE}},
    "Tokens": {
        "type": "object",
        "required": ["accessToken", "tokenType", "expiresIn", "expiresAt", "refreshToken", "refreshExpiresAt"],
        "properties": {
            "accessToken": {"type": "string", "description": "JWT (typ access): send as Authorization: Bearer."},
            "tokenType": {"type": "string", "enum": ["Bearer"]},
            "expiresIn": {"type": "integer", "minimum": 0, "description": "Seconds the access token stays valid."},
            "expiresAt": TIME,
            "refreshToken": token("Opaque, single-use: exchange it at /api/auth/refresh for a new pair. "
                                  "Presenting it twice ends the session."),
            "refreshExpiresAt": TIME}},
    "Session": {"allOf": [ref("Tokens"), {"type": "object", "required": ["user"],
                                          "properties": {"user": ref("User")}}]},
    "GoogleSession": {"allOf": [ref("Session"), {"type": "object", "required": ["isNewUser"],
                                                 "properties": {"isNewUser": {"type": "boolean"}}}]},
    "Message": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
    "Register": obj({
        "email": email(),
        "password": password(8, "8 to 128 characters, no control characters."),
        "name": text(100, "Display name."),
        "phone": phone(),
        "role": {"type": "string", "enum": ["customer", "seller"], "default": "customer",
                 "description": "Never admin: an administrator grants that role."}},
        ["email", "password", "name"]),
    "Login": obj({"email": email(), "password": password(1, "The account's password.")}, ["email", "password"]),
    "RefreshToken": obj({"refreshToken": token("A refresh token as issued.")}, ["refreshToken"]),
    "Google": obj({"idToken": {"type": "string", "minLength": 1, "maxLength": 8192, "pattern": NO_CTRL,
                               "description": "A Google ID token (RS256 JWT) for one of the configured client ids."}},
                  ["idToken"]),
    "ChangePassword": obj({"currentPassword": password(1, "The password now."),
                           "newPassword": password(8, "8 to 128 characters, no control characters.")},
                          ["currentPassword", "newPassword"]),
    "EmailToken": obj({"token": token("The token from the verification message.")}, ["token"]),
    "Forgot": obj({"email": email()}, ["email"]),
    "Reset": obj({"token": token("The token from the reset message."),
                  "password": password(8, "The new password: 8 to 128 characters, no control characters.")},
                 ["token", "password"]),
    "ValidateToken": obj({"token": token("A verification or reset token."),
                          "type": {"type": "string", "enum": ["verify", "reset"]}}, ["token", "type"]),
    "TokenValidity": {
        "type": "object", "required": ["valid", "type"],
        "properties": {"valid": {"type": "boolean"}, "type": {"type": "string", "enum": ["verify", "reset"]},
                       "reason": {"type": "string", "enum": ["invalid", "expired", "used", "superseded"]},
                       "expiresAt": TIME}},
    "ProfileUpdate": obj({"name": text(100, "Display name."), "phone": phone()}, (), {"minProperties": 1}),
    "RoleChange": obj({"role": ROLE}, ["role"]),
    "UserList": {
        "type": "object", "required": ["items", "cursors", "totalCount", "pageInfo"],
        "properties": {
            "items": {"type": "array", "items": ref("User")},
            "cursors": {"type": "array", "items": {"type": "string", "pattern": OID},
                        "description": "cursors[i] is the cursor positioned at items[i]: cursor=cursors[i] lists what follows it."},
            "totalCount": {"type": "integer", "minimum": 0},
            "pageInfo": {"type": "object", "required": ["hasNextPage", "endCursor"],
                         "properties": {"hasNextPage": {"type": "boolean"},
                                        "endCursor": {"type": "string", "pattern": OID, "nullable": True}}}}},
    "UserBatch": {
        "type": "object", "required": ["items", "missing"],
        "properties": {"items": {"type": "array", "items": ref("PublicUser")},
                       "missing": {"type": "array", "items": {"type": "string", "pattern": OID}}}},
}

ADDRESS_FIELDS = {
    "label": text(40, "A name for the address (Home, Office).", True),
    "fullName": text(100, "Recipient."),
    "phone": phone(),
    "line1": text(200, "Street and number."),
    "line2": text(200, "More address lines.", True),
    "city": text(100, "City."),
    "region": text(100, "State, province or region.", True),
    "postalCode": {"type": "string", "minLength": 1, "maxLength": 20, "pattern": POSTAL},
    "country": {"type": "string", "pattern": COUNTRY, "description": "ISO 3166-1 alpha-2, e.g. DE."},
}
SCHEMAS["Address"] = {
    "type": "object",
    "required": ["id", "label", "fullName", "phone", "line1", "line2", "city", "region", "postalCode", "country",
                 "isDefaultShipping", "isDefaultBilling", "createdAt", "updatedAt"],
    "properties": dict({"id": {"type": "string", "pattern": OID}},
                       **{k: ({"type": "string", "nullable": True} if v.get("nullable") else {"type": "string"})
                          for k, v in ADDRESS_FIELDS.items()},
                       isDefaultShipping={"type": "boolean"}, isDefaultBilling={"type": "boolean"},
                       createdAt=TIME, updatedAt=TIME)}
SCHEMAS["AddressCreate"] = obj(dict(ADDRESS_FIELDS, isDefaultShipping={"type": "boolean"},
                                    isDefaultBilling={"type": "boolean"}),
                               ["fullName", "line1", "city", "postalCode", "country"])
SCHEMAS["AddressUpdate"] = obj(
    {k: (v if v.get("nullable") else {kk: vv for kk, vv in v.items() if kk != "nullable"})
     for k, v in ADDRESS_FIELDS.items()}, (), {"minProperties": 1})
SCHEMAS["AddressDefault"] = obj({"type": {"type": "string", "enum": ["shipping", "billing", "both"]}}, ["type"])
SCHEMAS["AddressList"] = {"type": "object", "required": ["items"],
                          "properties": {"items": {"type": "array", "maxItems": 20, "items": ref("Address")}}}

DESCRIPTIONS = {
    400: "Malformed input: parameters or body fail validation (details list every field).",
    401: "Missing, malformed, expired or forged access token.",
    403: "The token's role may not do this.",
    404: "Not found.",
    409: "Conflict with the current state.",
    413: "Body larger than MAX_BODY_BYTES.",
    415: "Body is not application/json.",
    429: "Rate limited: retry after Retry-After seconds.",
    500: "Unexpected failure.",
    503: "The database is unavailable (or password hashing is saturated): retry after Retry-After seconds.",
}


def error(status, desc=None):
    r = {"description": desc or DESCRIPTIONS[status],
         "content": {"application/json": {"schema": ref("Error")}}}
    if status in (429, 503):
        r["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}
    if status == 401:
        r["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return r


def ok(schema, desc, status=200, location=False):
    r = {"description": desc}
    if schema is not None:
        r["content"] = {"application/json": {"schema": ref(schema) if isinstance(schema, str) else schema}}
    if location:
        r["headers"] = {"Location": {"schema": {"type": "string"}}}
    return {status: r}


def op(summary, op_id, desc, responses, body=None, params=None, auth=True, errors=(), overrides=None):
    """One operation: its success responses, then the errors it can answer."""
    o = {"summary": summary, "operationId": op_id, "description": desc,
         "security": [{"bearerAuth": []}] if auth else []}
    if params:
        o["parameters"] = params
    if body:
        o["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    rs = {}
    for r in responses:
        rs.update({str(k): v for k, v in r.items()})
    codes = set(errors) | {500}
    if body:
        codes |= {400, 413, 415}
    if auth:
        codes |= {401}
    for c in sorted(codes):
        rs[str(c)] = error(c, (overrides or {}).get(c))
    o["responses"] = rs
    return o


ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": OID}}
ANY_ROLE = "Any signed-in user (access token of any role)."

PATHS = {
    "/api/auth/register": {"post": op(
        "Create an account", "register",
        "Creates a customer (or seller) account, queues a message with an email-verification link, and signs "
        "in. A 409 tells that the address is registered — what a sign-up form must say anyway — so the route "
        "is rate-limited per client address (RATE_LIMIT_REGISTER_IP) to keep it from serving as a directory.",
        [ok("Session", "The account and a session.", 201)], "Register", auth=False, errors=(409, 429, 503),
        overrides={409: "The email address is already registered."})},
    "/api/auth/login": {"post": op(
        "Sign in with email and password", "login",
        "Wrong email and wrong password get the same answer in the same time. Rate-limited per client "
        "address, and per account with a doubling wait after LOGIN_FREE_ATTEMPTS attempts "
        "(429 with Retry-After). An outdated password hash is upgraded on success.",
        [ok("Session", "A session.")], "Login", auth=False, errors=(401, 403, 429, 503),
        overrides={401: "Invalid email or password.", 403: "The account is disabled."})},
    "/api/auth/refresh": {"post": op(
        "Exchange a refresh token for a new pair", "refresh",
        "Every refresh token works once. Presenting a spent one again revokes the whole session (both the "
        "thief's and the owner's copies stop working).",
        [ok("Tokens", "A new access token and the next refresh token of the session.")], "RefreshToken",
        auth=False, errors=(401, 429, 503),
        overrides={401: "Unknown, expired or reused refresh token, or the session has ended."})},
    "/api/auth/logout": {"post": op(
        "End a session", "logout",
        "Revokes the session of the given refresh token (every refresh token of it). Unknown tokens are "
        "ignored.", [ok(None, "Done.", 204)], "RefreshToken", auth=False, errors=(429, 503))},
    "/api/auth/logout-all": {"post": op(
        "End every session of the account", "logoutAll",
        ANY_ROLE + " Every refresh token of the account stops working; access tokens expire on their own "
        "(JWT_ACCESS_TTL_SECONDS).", [ok(None, "Done.", 204)], errors=(404, 409, 503),
        overrides={404: "The account no longer exists.", 409: "A concurrent change of the account; retry."})},
    "/api/auth/google": {"post": op(
        "Sign in with Google", "googleSignIn",
        "Verifies a Google ID token (RS256, Google's keys, iss, aud = GOOGLE_CLIENT_ID, exp) and signs in the "
        "linked account, or links the account with that (Google-verified) email, or creates one.",
        [ok("GoogleSession", "A session.")], "Google", auth=False, errors=(401, 403, 404, 409, 429, 503),
        overrides={401: "The ID token does not verify.", 403: "Disabled account, or Google did not verify the email.",
                   404: "Google sign-in is not configured on this server.",
                   409: "The Google account is linked to another account."})},
    "/api/auth/change-password": {"post": op(
        "Change the password", "changePassword",
        ANY_ROLE + " Ends every session of the account and returns a new one for this device; a notice is "
        "sent by email. Wrong current passwords count like failed logins (per-account backoff).",
        [ok("Session", "The new session.")], "ChangePassword", errors=(403, 404, 409, 429, 503),
        overrides={403: "The current password is wrong, or the account has no password.",
                   404: "The account no longer exists.", 409: "The password changed meanwhile; retry."})},
    "/api/auth/verify-email/send": {"post": op(
        "Send (again) the email-verification message", "sendVerification",
        ANY_ROLE + " Rate-limited per account (RATE_LIMIT_VERIFY_USER).",
        [ok("Message", "Queued.", 202)], errors=(404, 409, 429, 503),
        overrides={404: "The account no longer exists.", 409: "The email address is already verified."})},
    "/api/auth/verify-email": {"post": op(
        "Confirm the email address with the token from the message", "verifyEmail",
        "Single use. A welcome message follows.", [ok("User", "The verified account.")], "EmailToken",
        auth=False, errors=(401, 409, 429, 503),
        overrides={401: "Unknown or expired token (details.reason).", 409: "The token was already used."})},
    "/api/auth/forgot-password": {"post": op(
        "Ask for a password-reset message", "forgotPassword",
        "Always the same answer, whether or not an account uses the address (no enumeration). Rate-limited "
        "per client address and per email address.",
        [ok("Message", "Accepted.", 202)], "Forgot", auth=False, errors=(429,))},
    "/api/auth/reset-password": {"post": op(
        "Set a new password with the token from the reset message", "resetPassword",
        "Single use; ends every session of the account; any other outstanding reset token stops working.",
        [ok(None, "Done.", 204)], "Reset", auth=False, errors=(401, 409, 429, 503),
        overrides={401: "Unknown, expired or superseded token (details.reason).",
                   409: "The token was already used."})},
    "/api/auth/validate-token": {"post": op(
        "Check a verification or reset token without using it", "validateToken",
        "For a client that wants to show the reset form only for a usable token.",
        [ok("TokenValidity", "Whether the token can be used now.")], "ValidateToken", auth=False,
        errors=(429, 503))},
    "/api/users/me": {
        "get": op("The signed-in user's account", "me", ANY_ROLE, [ok("User", "The account.")],
                  errors=(404, 503), overrides={404: "The account no longer exists."}),
        "patch": op("Change the signed-in user's profile", "updateMe",
                    ANY_ROLE + " Name and phone; the email address cannot be changed.",
                    [ok("User", "The account.")], "ProfileUpdate", errors=(404, 409, 503),
                    overrides={404: "The account no longer exists.", 409: "A concurrent change; retry."})},
    "/api/users/batch": {"get": op(
        "Public profiles by id", "usersBatch",
        "For other services (the gateway resolves a product's seller): id, name and role only.",
        [ok("UserBatch", "Found profiles in the order asked; unknown ids in missing.")], auth=False,
        params=[{"name": "ids", "in": "query", "required": True, "description": "Comma-separated ids, at most 100.",
                 "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{24}(,[0-9a-fA-F]{24}){0,99}$"}}],
        errors=(400, 503))},
    "/api/users": {"get": op(
        "List users (admin)", "listUsers", "Newest first; cursor pagination (pass endCursor).",
        [ok("UserList", "A page of users.")],
        params=[
            {"name": "q", "in": "query", "description": "Part of the email address or name (case-insensitive).",
             "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NO_CTRL}},
            {"name": "role", "in": "query", "schema": ROLE},
            {"name": "disabled", "in": "query", "schema": {"type": "boolean"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
            {"name": "cursor", "in": "query", "schema": {"type": "string", "pattern": OID}}],
        errors=(400, 403, 503), overrides={403: "Not an administrator."})},
    "/api/users/{id}": {
        "get": op("A user (admin)", "getUser", "The full account.", [ok("User", "The account.")],
                  params=[ID_PARAM], errors=(400, 403, 404, 503), overrides={403: "Not an administrator."}),
        "delete": op("Delete a user (admin)", "deleteUser",
                     "Deletes the account, its addresses and its Google link; its sessions end. Not oneself.",
                     [ok(None, "Deleted.", 204)], params=[ID_PARAM], errors=(400, 403, 404, 409, 503),
                     overrides={403: "Not an administrator.",
                                409: "An administrator cannot delete themselves, or a concurrent change."})},
    "/api/users/{id}/role": {"put": op(
        "Change a user's role (admin)", "setUserRole",
        "Takes effect at the user's next refresh (access tokens keep their role until they expire). Not oneself.",
        [ok("User", "The account.")], "RoleChange", params=[ID_PARAM], errors=(403, 404, 409, 503),
        overrides={403: "Not an administrator.", 409: "Not on oneself, or a concurrent change."})},
    "/api/users/{id}/disable": {"post": op(
        "Disable a user (admin)", "disableUser", "Ends every session and refuses sign-ins. Not oneself.",
        [ok("User", "The account.")], params=[ID_PARAM], errors=(400, 403, 404, 409, 503),
        overrides={403: "Not an administrator.", 409: "Not on oneself, or a concurrent change."})},
    "/api/users/{id}/enable": {"post": op(
        "Enable a user again (admin)", "enableUser", "Not oneself.",
        [ok("User", "The account.")], params=[ID_PARAM], errors=(400, 403, 404, 409, 503),
        overrides={403: "Not an administrator.", 409: "Not on oneself, or a concurrent change."})},
    "/api/addresses": {
        "get": op("The signed-in user's addresses", "listAddresses", ANY_ROLE + " Oldest first, at most 20.",
                  [ok("AddressList", "Every address.")], errors=(404, 503),
                  overrides={404: "The account no longer exists."}),
        "post": op("Add an address", "createAddress",
                   ANY_ROLE + " The first address becomes the default for shipping and billing.",
                   [ok("Address", "The new address.", 201, location=True)], "AddressCreate", errors=(404, 409, 503),
                   overrides={404: "The account no longer exists.",
                              409: "The account already has 20 addresses, or a concurrent change."})},
    "/api/addresses/{id}": {
        "get": op("One of the user's addresses", "getAddress", ANY_ROLE, [ok("Address", "The address.")],
                  params=[ID_PARAM], errors=(400, 404, 503), overrides={404: "No such address of this user."}),
        "patch": op("Change an address", "updateAddress", ANY_ROLE, [ok("Address", "The address.")],
                    "AddressUpdate", params=[ID_PARAM], errors=(404, 409, 503),
                    overrides={404: "No such address of this user.", 409: "A concurrent change; retry."}),
        "delete": op("Delete an address", "deleteAddress", ANY_ROLE + " A default it was stops being one.",
                     [ok(None, "Deleted.", 204)], params=[ID_PARAM], errors=(400, 404, 409, 503),
                     overrides={404: "No such address of this user.", 409: "A concurrent change; retry."})},
    "/api/addresses/{id}/default": {"post": op(
        "Make an address the default", "setDefaultAddress", ANY_ROLE + " For shipping, billing or both.",
        [ok("Address", "The address.")], "AddressDefault", params=[ID_PARAM], errors=(404, 409, 503),
        overrides={404: "No such address of this user.", 409: "A concurrent change; retry."})},
}

DOC = {
    "openapi": "3.0.3",
    "info": {
        "title": "Mercato auth service", "version": "1.0.0",
        "description": "Accounts, sessions, roles and addresses. Access tokens are short-lived JWTs (send as "
                       "Authorization: Bearer); refresh tokens are opaque, single-use and rotate on every "
                       "refresh. Errors use the envelope {\"error\":{\"code\",\"message\",\"details\"}}."},
    "servers": [{"url": "http://localhost:4001"}],
    "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
                   "schemas": SCHEMAS},
    "paths": PATHS,
}

if __name__ == "__main__":
    json.dump(DOC, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
