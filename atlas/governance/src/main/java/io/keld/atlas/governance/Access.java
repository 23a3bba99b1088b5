package io.keld.atlas.governance;

import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Role;

/**
 * Who may see and do what in Atlas. Two questions, asked in this order:
 *
 * <ol>
 *   <li><b>Can the key see the resource?</b> Its organization, then its team/project scope. If not,
 *       the answer is 404, the same as for a resource that does not exist: nothing leaks across
 *       tenants or scopes.</li>
 *   <li><b>May its role do this?</b> If not, 403.</li>
 * </ol>
 *
 * <table>
 *   <caption>Roles (on what the key can see)</caption>
 *   <tr><th>action</th><th>operator</th><th>admin</th><th>member</th><th>read-only</th><th>provider</th></tr>
 *   <tr><td>read organizations, teams, projects, budgets, reservations</td><td>yes</td><td>yes</td><td>yes</td><td>yes</td><td>yes</td></tr>
 *   <tr><td>reserve, settle, release</td><td>yes</td><td>yes</td><td>yes</td><td>no</td><td>no</td></tr>
 *   <tr><td>create teams; issue org-wide keys</td><td>yes</td><td>unscoped</td><td>no</td><td>no</td><td>no</td></tr>
 *   <tr><td>create projects, set the team budget (admin unscoped or of that team)</td><td>yes</td><td>yes</td><td>no</td><td>no</td><td>no</td></tr>
 *   <tr><td>set a project budget (admin whose scope covers the project)</td><td>yes</td><td>yes</td><td>no</td><td>no</td><td>no</td></tr>
 *   <tr><td>issue, list, revoke keys (inside the admin's own scope)</td><td>yes</td><td>yes</td><td>no</td><td>no</td><td>no</td></tr>
 *   <tr><td>read the audit log</td><td>all orgs</td><td>unscoped, own org</td><td>no</td><td>no</td><td>no</td></tr>
 *   <tr><td>create organizations</td><td>yes</td><td>no</td><td>no</td><td>no</td><td>no</td></tr>
 * </table>
 */
public final class Access {

  private Access() {}

  public static boolean seesOrg(Principal p, String orgId) {
    return p.isOperator() || p.orgId().equals(orgId);
  }

  public static boolean seesTeam(Principal p, Team t) {
    return seesOrg(p, t.orgId()) && (p.teamId() == null || p.teamId().equals(t.id()));
  }

  public static boolean seesProject(Principal p, Project pr) {
    return seesOrg(p, pr.orgId())
        && (p.teamId() == null || p.teamId().equals(pr.teamId()))
        && (p.projectId() == null || p.projectId().equals(pr.id()));
  }

  public static boolean isUnscoped(Principal p) {
    return p.teamId() == null && p.projectId() == null;
  }

  /** Org-wide management: the operator, or an admin of the whole organization. */
  public static boolean managesOrg(Principal p, String orgId) {
    return p.isOperator() || (p.role() == Role.ADMIN && p.orgId().equals(orgId) && isUnscoped(p));
  }

  public static boolean managesTeam(Principal p, Team t) {
    return p.isOperator() || (p.role() == Role.ADMIN && seesTeam(p, t) && p.projectId() == null);
  }

  public static boolean managesProject(Principal p, Project pr) {
    return p.isOperator() || (p.role() == Role.ADMIN && seesProject(p, pr));
  }

  public static boolean spendsIn(Principal p, Project pr) {
    return spends(p) && (p.isOperator() || seesProject(p, pr));
  }

  /** The key's role may spend (submit, send items, cancel): operator, admin or member; read-only keys read. */
  public static boolean spends(Principal p) {
    return p.isOperator() || p.role() == Role.ADMIN || p.role() == Role.MEMBER;
  }

  public static boolean readsAudit(Principal p, String orgId) {
    return managesOrg(p, orgId);
  }
}
