package io.keld.ixp.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One line of a data-plane upload ({@code application/x-ndjson}).
 *
 * @param customId the client's id for the item, unique within the job (1 to 256 characters)
 * @param body     an OpenAI chat/completions or embeddings request body
 * @param url      optional, as in OpenAI's batch format: "/v1/chat/completions" or "/v1/embeddings";
 *                 without it, a body with "input" is an embeddings request and one with "messages" a chat
 * @param method   optional, as in OpenAI's batch format: "POST"
 */
public record ItemLine(String customId, ObjectNode body, String url, String method) {}
