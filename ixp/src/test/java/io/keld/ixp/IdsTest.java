package io.keld.ixp;

import static org.junit.jupiter.api.Assertions.*;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class IdsTest {

  private static final String ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

  @Test
  void anIdIsItsPrefixAndSixteenCharactersOfTheAlphabet() {
    for (int i = 0; i < 1_000; i++) {
      String id = Ids.next("job");
      assertTrue(id.matches("job_[0-9abcdefghjkmnpqrstvwxyz]{16}"), id);
    }
  }

  @Test
  void everyCharacterOfTheAlphabetTurnsUpInEveryPosition() {
    // 5 bits a character: each of the 32 characters must be reachable at each of the 16 positions
    // (a bit-slicing mistake would pin some bits and leave characters out).
    int n = 16;
    int draws = 20_000;
    int[][] seen = new int[n][32];
    for (int d = 0; d < draws; d++) {
      String r = Ids.random(n);
      for (int i = 0; i < n; i++) seen[i][ALPHABET.indexOf(r.charAt(i))]++;
    }
    for (int i = 0; i < n; i++) {
      for (int c = 0; c < 32; c++) {
        // Expected 625 each; a count under 400 would mean a skewed distribution, not chance.
        assertTrue(seen[i][c] > 400, "character " + ALPHABET.charAt(c) + " at position " + i + " seen " + seen[i][c] + " times");
      }
    }
  }

  @Test
  void lengthsThatAreNotAWholeNumberOfBytesWork() {
    Set<String> distinct = new HashSet<>();
    for (int n : new int[] {1, 3, 7, 9, 24}) {
      for (int i = 0; i < 200; i++) {
        String r = Ids.random(n);
        assertEquals(n, r.length());
        assertTrue(r.chars().allMatch(ch -> ALPHABET.indexOf(ch) >= 0), r);
        if (n >= 7) distinct.add(r);
      }
    }
    assertEquals(600, distinct.size(), "random strings of 7 characters or more do not repeat");
  }
}
