package io.keld.atlas.tenancy;

import io.keld.ixp.auth.Principal.OrgKind;
import java.time.Instant;

/** An enterprise, a provider, or the operator of this Keld installation. */
public record Organization(String id, String name, OrgKind kind, Instant createdAt) {}
