/* The floor in C for benchmarks/rtt.py: the same least-work raw-socket echo responder as floor_responder.py.
 * BENCHMARK ONLY: no checks at all; run it only on the benchmark's own veth. It sleeps in poll() between
 * packets as labkit does, so it measures the wake-up and syscall cost that no user-space responder avoids.
 *     cc -O2 -o floor_responder floor_responder.c && ./floor_responder <interface> <IPv4 address>
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static int read_mac(const char *interface, unsigned char mac[6]) {
  char path[128];
  unsigned int m[6];
  snprintf(path, sizeof path, "/sys/class/net/%s/address", interface);
  FILE *file = fopen(path, "r");
  if (!file || fscanf(file, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) return -1;
  fclose(file);
  for (int i = 0; i < 6; i++) mac[i] = (unsigned char)m[i];
  return 0;
}

int main(int argc, char **argv) {
  unsigned char mac[6], frame[65536], ip[4];
  struct in_addr address;
  if (argc != 3 || inet_pton(AF_INET, argv[2], &address) != 1 || read_mac(argv[1], mac)) return 2;
  int sock = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  struct sockaddr_ll link = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
  link.sll_ifindex = (int)if_nametoindex(argv[1]);
  int one = 1;
  if (sock < 0 || bind(sock, (struct sockaddr *)&link, sizeof link)) return perror("socket"), 1;
  setsockopt(sock, SOL_PACKET, 23 /* PACKET_IGNORE_OUTGOING */, &one, sizeof one);
  printf("ready\n");
  fflush(stdout);
  struct pollfd wait = {sock, POLLIN, 0};
  for (;;) {
    if (poll(&wait, 1, 100) <= 0) continue;
    ssize_t n = recv(sock, frame, sizeof frame, 0);
    if (n < 42) continue;
    if (frame[12] == 8 && frame[13] == 6 && frame[21] == 1 && !memcmp(frame + 38, &address, 4)) {
      unsigned char reply[42];
      memcpy(reply, frame + 6, 6);
      memcpy(reply + 6, mac, 6);
      memcpy(reply + 12, "\x08\x06\x00\x01\x08\x00\x06\x04\x00\x02", 10);
      memcpy(reply + 22, mac, 6);
      memcpy(reply + 28, &address, 4);
      memcpy(reply + 32, frame + 22, 10);
      send(sock, reply, sizeof reply, 0);
      continue;
    }
    if (frame[12] != 8 || frame[13] != 0 || frame[23] != 1 || memcmp(frame + 30, &address, 4)) continue;
    unsigned char *icmp = frame + 14 + (frame[14] & 0x0F) * 4;
    if (icmp + 4 > frame + n || icmp[0] != 8) continue;
    memcpy(frame, frame + 6, 6);
    memcpy(frame + 6, mac, 6);
    memcpy(ip, frame + 26, 4);
    memcpy(frame + 26, frame + 30, 4);
    memcpy(frame + 30, ip, 4);
    /* type 8 -> 0 as RFC 1141 adds it (RFC 1624 §3 names its one rare edge case) */
    unsigned int checksum = ((unsigned int)icmp[2] << 8 | icmp[3]) + 0x0800;
    checksum = (checksum & 0xFFFF) + (checksum >> 16);
    icmp[0] = 0;
    icmp[2] = (unsigned char)(checksum >> 8);
    icmp[3] = (unsigned char)checksum;
    send(sock, frame, (size_t)n, 0);
  }
}
