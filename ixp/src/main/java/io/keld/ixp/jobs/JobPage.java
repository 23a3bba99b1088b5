package io.keld.ixp.jobs;

import java.util.List;

/**
 * {@code GET /ixp/v1/jobs}: one page of the organization's jobs, newest first.
 *
 * @param object     always "list"
 * @param nextCursor pass as {@code cursor} for the next page; absent on the last page
 */
public record JobPage(String object, List<JobResource> data, String nextCursor) {}
