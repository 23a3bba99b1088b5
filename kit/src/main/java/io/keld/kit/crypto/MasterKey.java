package io.keld.kit.crypto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

/**
 * The 256-bit key provider credentials are encrypted under. From the environment
 * ({@code KELD_MASTER_KEY}, base64 of 32 bytes) when set; else from a key file, generated on first
 * start with permissions for its owner only. A key file others can read is refused, as ssh refuses
 * a private key anyone can read. Every node of a cluster needs the same key.
 */
public final class MasterKey {

  public static final String ENV = "KELD_MASTER_KEY";
  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

  private final SecretKey key;
  private final String source;

  private MasterKey(byte[] bytes, String source) {
    if (bytes.length != 32) throw new InvalidMasterKeyException(source + " must hold 32 bytes (base64), it holds " + bytes.length);
    this.key = new SecretKeySpec(bytes, "AES");
    this.source = source;
  }

  /** A key from raw bytes (tests, tools). */
  public static MasterKey of(byte[] bytes, String source) {
    return new MasterKey(bytes.clone(), source);
  }

  /** The environment's key if {@code envValue} is set, else the key file (created if missing). */
  public static MasterKey load(String envValue, Path keyFile) {
    if (envValue != null && !envValue.isBlank()) return new MasterKey(decode(envValue.trim(), "$" + ENV), "$" + ENV);
    try {
      if (Files.notExists(keyFile)) return generate(keyFile);
      if (Files.getFileStore(keyFile).supportsFileAttributeView("posix")) {
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(keyFile);
        if (!OWNER_ONLY.containsAll(perms)) {
          throw new InvalidMasterKeyException("the master key file " + keyFile + " can be read by others ("
              + PosixFilePermissions.toString(perms) + "); make it readable by its owner only: chmod 600 " + keyFile);
        }
      }
      return new MasterKey(decode(Files.readString(keyFile).trim(), keyFile.toString()), keyFile.toString());
    } catch (IOException e) {
      throw new InvalidMasterKeyException("the master key file " + keyFile + " could not be read: " + e.getMessage());
    }
  }

  private static MasterKey generate(Path keyFile) throws IOException {
    byte[] bytes = new byte[32];
    new SecureRandom().nextBytes(bytes);
    if (keyFile.getParent() != null) Files.createDirectories(keyFile.getParent());
    if (keyFile.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      Files.createFile(keyFile, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
    } else {
      Files.createFile(keyFile);
    }
    Files.writeString(keyFile, Base64.getEncoder().encodeToString(bytes) + "\n");
    return new MasterKey(bytes, keyFile.toString());
  }

  private static byte[] decode(String base64, String source) {
    try {
      return Base64.getDecoder().decode(base64);
    } catch (IllegalArgumentException e) {
      throw new InvalidMasterKeyException(source + " is not valid base64");
    }
  }

  SecretKey secretKey() {
    return key;
  }

  /** Where the key came from (the variable's name or the file's path), never the key. */
  public String source() {
    return source;
  }

  @Override
  public String toString() {
    return "MasterKey[" + source + "]";
  }

  /** The master key is missing, malformed, unprotected, or not the one the stored credentials need. */
  public static final class InvalidMasterKeyException extends RuntimeException {
    public InvalidMasterKeyException(String message) {
      super(message);
    }
  }
}
