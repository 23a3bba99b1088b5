package io.keld.testkit;

import java.net.InetSocketAddress;

/**
 * Something serving Keld's HTTP API on the loopback interface: a module's test node. (A whole
 * {@code KeldNode} lives above the testkit, so its tests pass {@code node.httpAddress()} instead.)
 */
public interface HttpNode {

  InetSocketAddress httpAddress();
}
