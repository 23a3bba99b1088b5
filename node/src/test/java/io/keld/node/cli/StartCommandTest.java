package io.keld.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class StartCommandTest {

  @Test
  void seedsAreHostPortOrFullAddresses() {
    assertEquals("pekko://keld@10.0.0.5:2552", StartCommand.seedAddress("10.0.0.5:2552"));
    assertEquals("pekko://keld@node-a:2551", StartCommand.seedAddress(" pekko://keld@node-a:2551 ".trim()));
    assertThrows(IllegalArgumentException.class, () -> StartCommand.seedAddress("10.0.0.5"));
    assertThrows(IllegalArgumentException.class, () -> StartCommand.seedAddress("10.0.0.5:http"));
  }
}
